/**
 * File names for SFTP folders, pure: name templates (`{id}`, `{ts}`, `{ext}`, `{name}`), glob
 * patterns, temporary names, content types guessed from a name and the first bytes.
 * @module
 */

export {
  baseName,
  checkTemplate,
  extensionFor,
  type FileNameFields,
  fileTimestamp,
  globMatcher,
  guessContentType,
  isTemporaryName,
  joinPath,
  looksLikeHl7,
  renderFileName,
  TEMPLATE_FIELDS,
  temporaryNameFor,
} from "./names.ts";
