/**
 * Parsing a JSON body with an error that says where it went wrong, and refusing an object that
 * names a key twice: the code is codecs/json/parse_bytes.ts, shared with the planning thread,
 * which parses large bodies (actors/engine/api_large_json.ts).
 * @module
 */

export { duplicateKeyAt } from "../../codecs/json/mod.ts";
export {
  invalidUtf8At,
  type JsonErrorLocation,
  locateJsonError,
  loneSurrogateAt,
  type ParsedJson,
  parseJsonBytes,
  type ParseJsonOptions,
} from "../../codecs/json/parse_bytes.ts";
