/**
 * A linear-time regular expression matcher for the `matches` operator: configuration comes from
 * operators, and a backtracking engine (the built-in `RegExp`) can take exponential time on
 * patterns such as `(a+)+$`. This one compiles a subset of the usual syntax to a Thompson NFA
 * and runs it as a Pike VM, so a test costs at most (input length × program size) steps,
 * whatever the pattern.
 *
 * Supported: literals, `.`, classes `[a-z]` `[^…]`, escapes `\d \w \s \D \W \S \n \r \t` and
 * escaped punctuation, groups `( )` and `(?: )`, alternation `|`, quantifiers `* + ? {n} {n,}
 * {n,m}` (bounds ≤ 100; a lazy `?` suffix is accepted, it changes nothing for a yes/no test),
 * anchors `^ $`, and the flag `i`. Refused with a reason: back-references, look-arounds, `\b`,
 * named groups, other flags, patterns over {@link MAX_PATTERN_LENGTH} characters or compiling to
 * more than {@link MAX_PROGRAM_SIZE} instructions. Inputs over {@link MAX_INPUT_LENGTH}
 * characters never match.
 *
 * @module
 */

/** Longest pattern accepted, in characters. */
export const MAX_PATTERN_LENGTH = 256;
/** Largest compiled program (after expanding counted repetitions). */
export const MAX_PROGRAM_SIZE = 2000;
/** Longest input tested; a longer value does not match. */
export const MAX_INPUT_LENGTH = 4096;
/** Largest bound of a counted repetition `{n,m}`. */
const MAX_REPEAT = 100;

/** A compiled pattern: `test` answers whether the pattern occurs anywhere in the input. */
export interface SafeRegex {
  /** The pattern as written. */
  readonly source: string;
  /** Whether the pattern matches somewhere in `input` (false past {@link MAX_INPUT_LENGTH}). */
  test(input: string): boolean;
}

/** Why a pattern was refused. */
export class SafeRegexError extends Error {
  /** A refusal naming the character position (1-based) where it applies, when there is one. */
  constructor(message: string) {
    super(message);
    this.name = "SafeRegexError";
  }
}

type CharTest = (c: number) => boolean;

type Node =
  | { readonly t: "char"; readonly test: CharTest }
  | { readonly t: "bol" }
  | { readonly t: "eol" }
  | { readonly t: "empty" }
  | { readonly t: "cat"; readonly parts: Node[] }
  | { readonly t: "alt"; readonly options: Node[] }
  | { readonly t: "rep"; readonly node: Node; readonly min: number; readonly max: number };

const isDigit: CharTest = (c) => c >= 48 && c <= 57;
const isWord: CharTest = (c) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace: CharTest = (c) =>
  c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0xfeff || c === 0x2028 ||
  c === 0x2029 || (c >= 0x2000 && c <= 0x200a) || c === 0x1680 || c === 0x202f ||
  c === 0x205f || c === 0x3000;

function lower(c: number): number {
  return String.fromCharCode(c).toLowerCase().charCodeAt(0);
}
function upper(c: number): number {
  return String.fromCharCode(c).toUpperCase().charCodeAt(0);
}

/** Recursive-descent parser over the supported syntax. */
class Parser {
  pos = 0;
  constructor(readonly src: string, readonly fold: boolean) {}

  fail(what: string): never {
    throw new SafeRegexError(`${what} at character ${this.pos + 1}`);
  }

  parse(): Node {
    const n = this.alternation();
    if (this.pos < this.src.length) this.fail(`unmatched ")"`);
    return n;
  }

  alternation(): Node {
    const options = [this.sequence()];
    while (this.src[this.pos] === "|") {
      this.pos++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0] as Node : { t: "alt", options };
  }

  sequence(): Node {
    const parts: Node[] = [];
    while (this.pos < this.src.length && this.src[this.pos] !== "|" && this.src[this.pos] !== ")") {
      parts.push(this.quantified(this.atom()));
    }
    if (parts.length === 0) return { t: "empty" };
    return parts.length === 1 ? parts[0] as Node : { t: "cat", parts };
  }

  number(): number {
    const start = this.pos;
    while (isDigit(this.src.charCodeAt(this.pos))) this.pos++;
    if (this.pos === start) this.fail("expected a number in {…}");
    const n = Number(this.src.slice(start, this.pos));
    if (n > MAX_REPEAT) this.fail(`a repetition bound over ${MAX_REPEAT}`);
    return n;
  }

  quantified(node: Node): Node {
    const c = this.src[this.pos];
    let min: number, max: number;
    if (c === "*") [min, max] = [0, Infinity];
    else if (c === "+") [min, max] = [1, Infinity];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{" && isDigit(this.src.charCodeAt(this.pos + 1))) {
      this.pos++;
      min = this.number();
      max = min;
      if (this.src[this.pos] === ",") {
        this.pos++;
        max = this.src[this.pos] === "}" ? Infinity : this.number();
      }
      if (this.src[this.pos] !== "}") this.fail(`expected "}"`);
      if (max < min) this.fail("a repetition {n,m} with m < n");
    } else return node;
    this.pos++;
    if (this.src[this.pos] === "?") this.pos++; // lazy: same answer for a yes/no test
    const next = this.src[this.pos];
    if (
      next === "*" || next === "+" || (next === "{" && isDigit(this.src.charCodeAt(this.pos + 1)))
    ) {
      this.fail("a quantifier after a quantifier");
    }
    if (node.t === "bol" || node.t === "eol") this.fail("a quantifier on an anchor");
    return { t: "rep", node, min, max };
  }

  literal(c: number): Node {
    if (!this.fold) return { t: "char", test: (x) => x === c };
    const l = lower(c), u = upper(c);
    return { t: "char", test: (x) => x === l || x === u || lower(x) === l };
  }

  atom(): Node {
    const c = this.src[this.pos] as string;
    switch (c) {
      case "(":
        return this.group();
      case "[":
        return this.cls();
      case ".":
        this.pos++;
        return { t: "char", test: (x) => x !== 10 && x !== 13 && x !== 0x2028 && x !== 0x2029 };
      case "^":
        this.pos++;
        return { t: "bol" };
      case "$":
        this.pos++;
        return { t: "eol" };
      case "\\":
        return this.escape();
      case "*":
      case "+":
      case "?":
        return this.fail(`nothing to repeat before "${c}"`);
      case "{":
        if (isDigit(this.src.charCodeAt(this.pos + 1))) this.fail(`nothing to repeat before "{"`);
        break;
      case "]":
      case "}":
        break;
    }
    this.pos++;
    return this.literal(c.charCodeAt(0));
  }

  group(): Node {
    this.pos++;
    if (this.src[this.pos] === "?") {
      if (this.src[this.pos + 1] !== ":") {
        this.fail("look-arounds and named groups are not supported; use (…) or (?:…)");
      }
      this.pos += 2;
    }
    const inner = this.alternation();
    if (this.src[this.pos] !== ")") this.fail(`missing ")"`);
    this.pos++;
    return inner;
  }

  /** One escape outside a class: a class shorthand or a literal. */
  escape(): Node {
    const t = this.escapeTest(false);
    return typeof t === "number" ? this.literal(t) : { t: "char", test: t };
  }

  /** An escape (after `\`): a test for a shorthand class, or the literal's code. */
  escapeTest(inClass: boolean): CharTest | number {
    this.pos++;
    const e = this.src[this.pos];
    if (e === undefined) this.fail("a pattern cannot end with \\");
    this.pos++;
    switch (e) {
      case "d":
        return isDigit;
      case "D":
        return (x) => !isDigit(x);
      case "w":
        return isWord;
      case "W":
        return (x) => !isWord(x);
      case "s":
        return isSpace;
      case "S":
        return (x) => !isSpace(x);
      case "n":
        return 10;
      case "r":
        return 13;
      case "t":
        return 9;
      case "f":
        return 12;
      case "v":
        return 11;
      case "0":
        return 0;
    }
    if (/[A-Za-z0-9]/.test(e)) {
      this.pos--;
      if (/[1-9]/.test(e) || e === "k") this.fail("back-references are not supported");
      if (e === "b" && !inClass) this.fail("\\b (word boundary) is not supported");
      this.fail(`unknown escape \\${e}`);
    }
    return e.charCodeAt(0);
  }

  cls(): Node {
    this.pos++;
    const negate = this.src[this.pos] === "^";
    if (negate) this.pos++;
    const tests: CharTest[] = [];
    let first = true;
    while (this.src[this.pos] !== "]" || first) {
      first = false;
      if (this.pos >= this.src.length) this.fail(`missing "]"`);
      const lo = this.classAtom();
      if (typeof lo !== "number") {
        tests.push(lo);
        continue;
      }
      if (
        this.src[this.pos] === "-" && this.src[this.pos + 1] !== "]" &&
        this.pos + 1 < this.src.length
      ) {
        this.pos++;
        const hi = this.classAtom();
        if (typeof hi !== "number") this.fail("a range cannot end with a class shorthand");
        if (hi < lo) this.fail("a range out of order");
        tests.push(this.range(lo, hi));
      } else tests.push(this.range(lo, lo));
    }
    this.pos++;
    const any: CharTest = (x) => {
      for (const t of tests) if (t(x)) return true;
      return false;
    };
    return { t: "char", test: negate ? (x) => !any(x) : any };
  }

  classAtom(): CharTest | number {
    if (this.src[this.pos] === "\\") {
      const t = this.escapeTest(true);
      // Inside a class \b is the backspace character, as in JavaScript.
      return t;
    }
    const c = this.src.charCodeAt(this.pos);
    this.pos++;
    return c;
  }

  range(lo: number, hi: number): CharTest {
    if (!this.fold) return (x) => x >= lo && x <= hi;
    return (x) => {
      if (x >= lo && x <= hi) return true;
      const l = lower(x), u = upper(x);
      return (l >= lo && l <= hi) || (u >= lo && u <= hi);
    };
  }
}

// ---- compilation to a Pike VM program -------------------------------------------------------

const CHAR = 0, SPLIT = 1, JMP = 2, BOL = 3, EOL = 4, MATCH = 5;

interface Inst {
  op: number;
  test?: CharTest;
  x?: number;
  y?: number;
}

class Compiler {
  readonly prog: Inst[] = [];

  emit(i: Inst): number {
    if (this.prog.length >= MAX_PROGRAM_SIZE) {
      throw new SafeRegexError(
        `the pattern compiles to more than ${MAX_PROGRAM_SIZE} steps; use smaller repetition bounds`,
      );
    }
    this.prog.push(i);
    return this.prog.length - 1;
  }

  node(n: Node): void {
    switch (n.t) {
      case "char":
        this.emit({ op: CHAR, test: n.test });
        return;
      case "bol":
        this.emit({ op: BOL });
        return;
      case "eol":
        this.emit({ op: EOL });
        return;
      case "empty":
        return;
      case "cat":
        for (const p of n.parts) this.node(p);
        return;
      case "alt": {
        const jumps: Inst[] = [];
        for (let k = 0; k < n.options.length - 1; k++) {
          const split: Inst = { op: SPLIT, x: this.prog.length + 1 };
          this.emit(split);
          this.node(n.options[k] as Node);
          const j: Inst = { op: JMP };
          this.emit(j);
          jumps.push(j);
          split.y = this.prog.length;
        }
        this.node(n.options[n.options.length - 1] as Node);
        for (const j of jumps) j.x = this.prog.length;
        return;
      }
      case "rep": {
        for (let k = 0; k < n.min; k++) this.node(n.node);
        if (n.max === Infinity) {
          const split: Inst = { op: SPLIT, x: this.prog.length + 1 };
          const at = this.emit(split);
          this.node(n.node);
          this.emit({ op: JMP, x: at });
          split.y = this.prog.length;
          return;
        }
        const splits: Inst[] = [];
        for (let k = n.min; k < n.max; k++) {
          const split: Inst = { op: SPLIT, x: this.prog.length + 1 };
          this.emit(split);
          splits.push(split);
          this.node(n.node);
        }
        for (const s of splits) s.y = this.prog.length;
        return;
      }
    }
  }
}

/**
 * Runs a program over inputs: breadth-first over NFA states, each state at most once per input
 * position. The buffers are allocated once per pattern (tests never run re-entrantly).
 */
class Machine {
  readonly #prog: readonly Inst[];
  #clist: Int32Array;
  #nlist: Int32Array;
  readonly #mark: Int32Array;
  readonly #stack: Int32Array;
  #gen = 0;
  /** The pattern starts with `^`: attempts start at position 0 only. */
  readonly #anchored: boolean;

  constructor(prog: readonly Inst[]) {
    const n = prog.length;
    this.#prog = prog;
    this.#clist = new Int32Array(n);
    this.#nlist = new Int32Array(n);
    this.#mark = new Int32Array(n);
    this.#stack = new Int32Array(n * 2 + 2);
    this.#anchored = prog[0]?.op === BOL;
  }

  #nextGen(): void {
    if (++this.#gen > 0x3fffffff) {
      this.#mark.fill(0);
      this.#gen = 1;
    }
  }

  /** Adds pc and what it reaches without consuming a character; -1 when MATCH is reached. */
  #add(list: Int32Array, count: number, pc0: number, pos: number, len: number): number {
    const prog = this.#prog, mark = this.#mark, stack = this.#stack, gen = this.#gen;
    let sp = 0;
    stack[sp++] = pc0;
    while (sp > 0) {
      const pc = stack[--sp] as number;
      if (mark[pc] === gen) continue;
      mark[pc] = gen;
      const inst = prog[pc] as Inst;
      switch (inst.op) {
        case JMP:
          stack[sp++] = inst.x as number;
          break;
        case SPLIT:
          stack[sp++] = inst.y as number;
          stack[sp++] = inst.x as number;
          break;
        case BOL:
          if (pos === 0) stack[sp++] = pc + 1;
          break;
        case EOL:
          if (pos === len) stack[sp++] = pc + 1;
          break;
        case MATCH:
          return -1;
        default:
          list[count++] = pc;
      }
    }
    return count;
  }

  test(input: string): boolean {
    const prog = this.#prog, len = input.length;
    this.#nextGen();
    let ccount = this.#add(this.#clist, 0, 0, 0, len);
    if (ccount === -1) return true;
    for (let pos = 0; pos < len; pos++) {
      if (ccount === 0 && this.#anchored) return false;
      const c = input.charCodeAt(pos);
      const clist = this.#clist, nlist = this.#nlist;
      this.#nextGen();
      let ncount = 0;
      for (let k = 0; k < ccount; k++) {
        const pc = clist[k] as number;
        if ((prog[pc]?.test as CharTest)(c)) {
          ncount = this.#add(nlist, ncount, pc + 1, pos + 1, len);
          if (ncount === -1) return true;
        }
      }
      // Unanchored search: a new attempt starts at every position, deduplicated with the rest.
      if (!this.#anchored) {
        ncount = this.#add(nlist, ncount, 0, pos + 1, len);
        if (ncount === -1) return true;
      }
      this.#clist = nlist;
      this.#nlist = clist;
      ccount = ncount;
    }
    return false;
  }
}

/**
 * Compiles a pattern of the supported subset (see the module doc).
 *
 * @throws {SafeRegexError} naming what is not supported and where.
 */
export function compileSafeRegex(pattern: string, flags = ""): SafeRegex {
  if (typeof pattern !== "string") throw new SafeRegexError("the pattern must be a string");
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new SafeRegexError(`the pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  if (flags !== "" && flags !== "i") {
    throw new SafeRegexError(`unsupported flags ${JSON.stringify(flags)} (only "i")`);
  }
  const ast = new Parser(pattern, flags === "i").parse();
  const c = new Compiler();
  c.node(ast);
  c.emit({ op: MATCH });
  const machine = new Machine(c.prog);
  return {
    source: pattern,
    test: (input: string) => input.length <= MAX_INPUT_LENGTH && machine.test(input),
  };
}
