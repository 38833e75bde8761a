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

const BACKING_FORMAT_EXT = 0xe2792aca;

/**
 * Points a qcow2 layer at another backing file in place — what `qemu-img rebase -u -F qcow2` does, without a
 * subprocess for a header edit. The name lives after the header extensions in the first cluster; only layers
 * that already declare a qcow2 backing format and have room for the new name are handled here. Returns false
 * when the caller should fall back to qemu-img.
 */
export async function setQcow2Backing(path: string, backing: string): Promise<boolean> {
  const fh = await open(path, "r+");
  try {
    const head = Buffer.alloc(112);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < 72 || head.readUInt32BE(0) !== MAGIC) return false;
    const version = head.readUInt32BE(4);
    const offset = Number(head.readBigUInt64BE(8));
    const oldSize = head.readUInt32BE(16);
    const clusterSize = 2 ** head.readUInt32BE(20);
    const headerLength = version >= 3 ? head.readUInt32BE(100) : 72;
    if ((version !== 2 && version !== 3) || offset < headerLength || offset > clusterSize) return false;
    const name = Buffer.from(backing, "utf8");
    if (name.length > 1023 || offset + Math.max(name.length, oldSize) > clusterSize) return false;
    // the backing format extension must already say qcow2 (it is not rewritten here)
    const area = Buffer.alloc(offset - headerLength);
    await fh.read(area, 0, area.length, headerLength);
    let pos = 0;
    let format: string | undefined;
    while (pos + 8 <= area.length) {
      const type = area.readUInt32BE(pos);
      const len = area.readUInt32BE(pos + 4);
      if (type === 0) break;
      if (type === BACKING_FORMAT_EXT) format = area.toString("utf8", pos + 8, pos + 8 + len);
      pos += 8 + Math.ceil(len / 8) * 8;
    }
    if (format !== "qcow2") return false;
    const tail = Buffer.alloc(Math.max(name.length, oldSize));
    name.copy(tail);
    await fh.write(tail, 0, tail.length, offset);
    const size = Buffer.alloc(4);
    size.writeUInt32BE(name.length);
    await fh.write(size, 0, 4, 16);
    return true;
  } finally {
    await fh.close();
  }
}
