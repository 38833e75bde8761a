import type { Writable } from "node:stream";

/**
 * Output of one VM's command when several run: whole lines, each prefixed with the VM (`vm3: ...`), so
 * lines of different VMs never mix. A partial line waits for its end, or for `flush` when the command ends.
 */
export class LinePrefixer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly prefix: string,
    private readonly out: Writable,
  ) {}

  write(data: Buffer): void {
    const buf = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    const last = buf.lastIndexOf(0x0a);
    if (last < 0) {
      this.pending = buf;
      return;
    }
    const lines = buf.subarray(0, last).toString().split("\n");
    this.out.write(lines.map((l) => `${this.prefix}${l}\n`).join(""));
    this.pending = Buffer.from(buf.subarray(last + 1));
  }

  flush(): void {
    if (this.pending.length) this.out.write(`${this.prefix}${this.pending.toString()}\n`);
    this.pending = Buffer.alloc(0);
  }
}
