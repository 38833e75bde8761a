/** One member of an initramfs; the kernel only reads the "newc" cpio format. */
export type CpioEntry =
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "file"; mode?: number; data: Buffer }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "char"; mode?: number; major: number; minor: number };

const TYPE_BITS = { dir: 0o040000, file: 0o100000, symlink: 0o120000, char: 0o020000 } as const;

function pad4(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}

function header(fields: number[], name: string): Buffer {
  const nameBuf = Buffer.from(`${name}\0`);
  const text = "070701" + fields.map((f) => f.toString(16).padStart(8, "0")).join("");
  const head = Buffer.concat([Buffer.from(text), nameBuf]);
  return Buffer.concat([head, pad4(head.length)]);
}

/**
 * Serialises entries into an uncompressed newc archive (no compression: under TCG the kernel unpacks a
 * few MiB of plain cpio faster than it inflates them). Owners are root, times zero: same input, same bytes.
 */
export function buildCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const data = e.type === "file" ? e.data : e.type === "symlink" ? Buffer.from(e.target) : Buffer.alloc(0);
    const perm = e.type === "symlink" ? 0o777 : (e.mode ?? (e.type === "dir" ? 0o755 : 0o644));
    const [rmaj, rmin] = e.type === "char" ? [e.major, e.minor] : [0, 0];
    const nlink = e.type === "dir" ? 2 : 1;
    const name = e.path.replace(/^\/+/, "");
    const fields = [ino++, TYPE_BITS[e.type] | perm, 0, 0, nlink, 0, data.length, 0, 0, rmaj, rmin];
    parts.push(header([...fields, Buffer.byteLength(name) + 1, 0], name), data, pad4(data.length));
  }
  parts.push(header([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, "TRAILER!!!".length + 1, 0], "TRAILER!!!"));
  return Buffer.concat(parts);
}
