import { open } from "node:fs/promises";

/** The few qcow2 header fields the repository needs, read in-process instead of running `qemu-img info`. */
export interface Qcow2Header {
  version: number;
  virtualSize: number;
  backingFile?: string;
}

const MAGIC = 0x514649fb;

/** Header of a qcow2 file, or undefined when the file is not qcow2. */
export async function readQcow2Header(path: string): Promise<Qcow2Header | undefined> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(104);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < 72 || head.readUInt32BE(0) !== MAGIC) return undefined;
    const version = head.readUInt32BE(4);
    const backingOffset = Number(head.readBigUInt64BE(8));
    const backingSize = head.readUInt32BE(16);
    const virtualSize = Number(head.readBigUInt64BE(24));
    const header: Qcow2Header = { version, virtualSize };
    if (backingOffset > 0 && backingSize > 0 && backingSize <= 1023) {
      const name = Buffer.alloc(backingSize);
      await fh.read(name, 0, backingSize, backingOffset);
      header.backingFile = name.toString("utf8");
    }
    return header;
  } finally {
    await fh.close();
  }
}
