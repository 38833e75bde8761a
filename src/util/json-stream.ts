import { StringDecoder } from "node:string_decoder";

/**
 * Splits a byte stream into complete top-level JSON values. Neither QMP nor OVSDB (RFC 7047) promises a
 * separator or a newline after a message, so framing tracks nesting and strings instead of lines.
 */
export class JsonValueSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private buf = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = 0;
  private scanned = 0;

  /** Feeds bytes; returns the values completed by them, parsed. Throws SyntaxError on malformed JSON. */
  push(chunk: Buffer | string): unknown[] {
    this.buf += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    const out: unknown[] = [];
    for (let i = this.scanned; i < this.buf.length; i++) {
      const c = this.buf[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === "{" || c === "[") {
        if (this.depth === 0) this.start = i;
        this.depth++;
      } else if (c === "}" || c === "]") {
        if (this.depth === 0) throw new SyntaxError("unbalanced JSON stream");
        if (--this.depth === 0) out.push(JSON.parse(this.buf.slice(this.start, i + 1)));
      } else if (this.depth > 0) {
        if (c === '"') this.inString = true;
      } else if (!/\s/.test(c)) {
        // messages are objects or arrays: anything else between them is a broken peer
        throw new SyntaxError(`unexpected character ${JSON.stringify(c)} between JSON values`);
      }
    }
    if (this.depth === 0) {
      this.buf = "";
      this.scanned = 0;
    } else {
      this.buf = this.buf.slice(this.start);
      this.scanned = this.buf.length;
      this.start = 0;
    }
    return out;
  }
}
