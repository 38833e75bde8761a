import { readFile } from "node:fs/promises";
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from "yaml";
import type { ZodIssue, ZodTypeAny, z } from "zod";
import type { ConfigIssue } from "../util/index.js";

export type KeyPath = ReadonlyArray<string | number>;

/** One YAML file with enough of its syntax tree kept to point every problem at a line. */
export class SourceFile {
  readonly issues: ConfigIssue[] = [];

  private constructor(
    readonly file: string,
    readonly data: unknown,
    private readonly doc: Document.Parsed | undefined,
    private readonly lines: LineCounter,
  ) {}

  /** Reads and parses `file`; `undefined` when it does not exist. YAML syntax errors become issues. */
  static async read(file: string): Promise<SourceFile | undefined> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      const src = new SourceFile(file, undefined, undefined, new LineCounter());
      src.issues.push({ file, message: `cannot read: ${(err as Error).message}` });
      return src;
    }
    return SourceFile.parse(file, text);
  }

  static missing(file: string): SourceFile {
    const src = new SourceFile(file, undefined, undefined, new LineCounter());
    src.issues.push({ file, message: "required file is missing" });
    return src;
  }

  static parse(file: string, text: string): SourceFile {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const src = new SourceFile(file, doc.errors.length ? undefined : (doc.toJS() as unknown), doc, lines);
    for (const err of doc.errors) {
      const line = lines.linePos(err.pos[0]).line;
      src.issues.push({ file, line, message: `YAML syntax: ${err.message.split("\n")[0]}` });
    }
    return src;
  }

  /** True when the file parsed; a document that is empty or all comments reads as an empty mapping. */
  get parsed(): boolean {
    return this.doc !== undefined && this.doc.errors.length === 0;
  }

  /** Line of the deepest node along `path` that exists (the key itself when the path ends at a map key). */
  lineOf(path: KeyPath): number | undefined {
    let node: unknown = this.doc?.contents;
    if (!node) return undefined;
    let line = this.nodeLine(node as Node);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        line = this.nodeLine(pair.key as Node) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number" && node.items[seg]) {
        node = node.items[seg];
        line = this.nodeLine(node as Node) ?? line;
      } else break;
    }
    return line;
  }

  private nodeLine(node: Node | null | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  issue(path: KeyPath, message: string): void {
    this.issues.push(this.locate(path, message));
  }

  locate(path: KeyPath, message: string): ConfigIssue {
    return { file: this.file, line: this.lineOf(path), keyPath: formatKeyPath(path), message };
  }

  /** Validates `value` (found at `base` in this file); returns the parsed value or undefined after recording issues. */
  check<S extends ZodTypeAny>(schema: S, value: unknown, base: KeyPath = []): z.infer<S> | undefined {
    const result = schema.safeParse(value);
    if (result.success) return result.data as z.infer<S>;
    for (const issue of result.error.issues) {
      for (const { path, message } of describeIssue(issue))
        this.issue([...base, ...path], withValue(message, valueAt(value, path)));
    }
    return undefined;
  }
}

function valueAt(value: unknown, path: KeyPath): unknown {
  let v = value;
  for (const seg of path)
    v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[seg] : undefined;
  return v;
}

/** Every message quotes the offending value (a scalar one; its line already locates a structure). */
function withValue(message: string, value: unknown): string {
  if (!["string", "number", "boolean"].includes(typeof value) || message === "unknown key") return message;
  const text = String(value);
  const shown =
    typeof value === "string"
      ? JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text).replace(/^"|"$/g, "'")
      : text;
  // "expected boolean, got string" → "... got string 'yes'"
  if (/, got \w+$/.test(message)) return `${message} ${shown}`;
  const present =
    typeof value === "string"
      ? message.includes(shown) || message.includes(JSON.stringify(text))
      : new RegExp(`(^|[^\\w.-])${text.replace(/[.+]/g, "\\$&")}([^\\w.]|$)`).test(message);
  return present ? message : `${message} (got ${shown})`;
}

function formatKeyPath(path: KeyPath): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

/** zod's issues reworded into one short sentence each, pointing at the offending key. */
function describeIssue(issue: ZodIssue): Array<{ path: KeyPath; message: string }> {
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => ({ path: [...issue.path, key], message: "unknown key" }));
    case "invalid_type":
      if (issue.received === "undefined") return [{ path: issue.path, message: "required key is missing" }];
      return [{ path: issue.path, message: `expected ${issue.expected}, got ${issue.received}` }];
    case "invalid_enum_value":
      return [
        {
          path: issue.path,
          message: `${JSON.stringify(issue.received)} is not one of ${issue.options.join(", ")}`,
        },
      ];
    case "invalid_union": {
      // Prefer the branch that got past its type check: its error says what is actually wrong.
      const deep = issue.unionErrors.filter((e) =>
        e.issues.some((i) => i.code !== "invalid_type" || i.path.length > issue.path.length),
      );
      const only = deep.length === 1 ? deep[0] : undefined;
      if (only) return only.issues.flatMap((i) => describeIssue(i));
      return [{ path: issue.path, message: issue.message }];
    }
    case "too_small":
      if (issue.type === "number")
        return [{ path: issue.path, message: issue.message.replace(/^Number must be/, "must be") }];
      return [{ path: issue.path, message: issue.message }];
    case "too_big":
      if (issue.type === "number")
        return [{ path: issue.path, message: issue.message.replace(/^Number must be/, "must be") }];
      return [{ path: issue.path, message: issue.message }];
    default:
      return [{ path: issue.path, message: issue.message }];
  }
}
