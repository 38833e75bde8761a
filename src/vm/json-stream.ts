/**
 * Splits a byte stream into complete top-level JSON values. QMP (like OVSDB) does not promise a newline
 * after each message, so framing is done by tracking nesting and strings rather than by lines.
 */
export class JsonValueSplitter {
  private buf = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private scanned = 0;

  /** Feeds a chunk and returns the raw text of every value completed by it. */
  push(chunk: string): string[] {
    this.buf += chunk;
    const out: string[] = [];
    let i = this.scanned;
    for (; i < this.buf.length; i++) {
      const c = this.buf.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c /* \ */) this.escaped = true;
        else if (c === 0x22 /* " */) this.inString = false;
        continue;
      }
      if (c === 0x22) {
        this.inString = true;
      } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        if (this.depth === 0) this.start = i;
        this.depth++;
      } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
        this.depth--;
        if (this.depth < 0) throw new SyntaxError("unbalanced JSON stream");
        if (this.depth === 0) {
          out.push(this.buf.slice(this.start, i + 1));
          this.buf = this.buf.slice(i + 1);
          i = -1;
          this.start = -1;
        }
      } else if (this.depth === 0 && c > 0x20) {
        throw new SyntaxError(`unexpected character ${JSON.stringify(this.buf[i])} between JSON values`);
      }
    }
    this.scanned = this.buf.length;
    if (this.depth === 0) {
      this.buf = "";
      this.scanned = 0;
    }
    return out;
  }
}
