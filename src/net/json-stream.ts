import { StringDecoder } from "node:string_decoder";

/**
 * Splits a byte stream into complete JSON texts. OVSDB (RFC 7047) sends one JSON object after another
 * with no separator and no trailing newline, so a line reader would wait forever.
 */
export class JsonSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private buf = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = 0;
  private scanned = 0;

  /** Feeds bytes; returns the texts completed by them, parsed. Throws on malformed JSON. */
  push(chunk: Buffer | string): unknown[] {
    this.buf += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    const out: unknown[] = [];
    for (let i = this.scanned; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') this.inString = true;
      else if (c === "{" || c === "[") {
        if (this.depth === 0) this.start = i;
        this.depth++;
      } else if (c === "}" || c === "]") {
        if (this.depth === 0) throw new SyntaxError("unbalanced JSON from peer");
        if (--this.depth === 0) out.push(JSON.parse(this.buf.slice(this.start, i + 1)));
      } else if (this.depth === 0 && !/\s/.test(c!)) {
        throw new SyntaxError(`unexpected ${JSON.stringify(c)} between JSON messages`);
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
