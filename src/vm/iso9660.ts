/**
 * A minimal ISO 9660 image writer for a handful of small files in the root directory (the cloud-init
 * NoCloud seed). Names such as `meta-data` are not valid ISO 9660 level-1 names, so the image also carries a
 * Joliet supplementary volume descriptor with the real names; Linux isofs and blkid both read Joliet.
 * Writing the image in-process avoids one genisoimage run per VM.
 */

const SECTOR = 2048;
const PAD_SECTORS = 150;

export interface IsoFile {
  name: string;
  data: Buffer;
}

function both16(buf: Buffer, off: number, v: number): void {
  buf.writeUInt16LE(v, off);
  buf.writeUInt16BE(v, off + 2);
}

function both32(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v, off);
  buf.writeUInt32BE(v, off + 4);
}

function ucs2be(s: string): Buffer {
  const b = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16BE(s.charCodeAt(i), i * 2);
  return b;
}

/** Level-1 name for the primary tree: uppercase d-characters, 8.3, version suffix. */
export function primaryName(name: string, taken: Set<string>): string {
  const clean = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  const dot = name.lastIndexOf(".");
  const base = clean(dot > 0 ? name.slice(0, dot) : name);
  const ext = clean(dot > 0 ? name.slice(dot + 1) : "").slice(0, 3);
  for (let n = 0; ; n++) {
    const suffix = n === 0 ? "" : `${n}`;
    const candidate = `${base.slice(0, 8 - suffix.length)}${suffix}.${ext};1`;
    if (!taken.has(candidate)) {
      taken.add(candidate);
      return candidate;
    }
  }
}

function recordDate(buf: Buffer, off: number, d: Date): void {
  buf[off] = d.getUTCFullYear() - 1900;
  buf[off + 1] = d.getUTCMonth() + 1;
  buf[off + 2] = d.getUTCDate();
  buf[off + 3] = d.getUTCHours();
  buf[off + 4] = d.getUTCMinutes();
  buf[off + 5] = d.getUTCSeconds();
  buf[off + 6] = 0;
}

function dirRecord(id: Buffer, extent: number, size: number, isDir: boolean, date: Date): Buffer {
  const len = 33 + id.length + (id.length % 2 === 0 ? 1 : 0);
  const r = Buffer.alloc(len);
  r[0] = len;
  both32(r, 2, extent);
  both32(r, 10, size);
  recordDate(r, 18, date);
  r[25] = isDir ? 2 : 0;
  both16(r, 28, 1);
  r[32] = id.length;
  id.copy(r, 33);
  return r;
}

function volumeDate(d: Date): Buffer {
  const p = (n: number, w: number): string => String(n).padStart(w, "0");
  const s =
    p(d.getUTCFullYear(), 4) +
    p(d.getUTCMonth() + 1, 2) +
    p(d.getUTCDate(), 2) +
    p(d.getUTCHours(), 2) +
    p(d.getUTCMinutes(), 2) +
    p(d.getUTCSeconds(), 2) +
    "00";
  return Buffer.concat([Buffer.from(s, "ascii"), Buffer.from([0])]);
}

function padField(value: Buffer, width: number, joliet: boolean): Buffer {
  const out = Buffer.alloc(width, 0x20);
  if (joliet) for (let i = 0; i + 1 < width; i += 2) out[i] = 0x00;
  value.copy(out, 0, 0, Math.min(value.length, width));
  return out;
}

interface Tree {
  dirSector: number;
  pathSector: number;
  records: Buffer;
}

interface Entry {
  f: IsoFile;
  extent: number;
  /** The 8.3 name in the primary tree (Joliet keeps the real name). */
  pname: string;
}

/** A NoCloud-sized ISO 9660 image with Joliet names: one root directory, no subdirectories. */
export function buildIso9660(files: IsoFile[], volumeId: string, now = new Date()): Buffer {
  if (volumeId.length > 16) throw new Error("volume id too long");
  checkNames(files);
  // Sector map: 16 system, PVD, SVD, terminator, 2 path tables per tree, 1 root dir per tree, then data.
  const primary: Tree = { pathSector: 19, dirSector: 23, records: Buffer.alloc(0) };
  const joliet: Tree = { pathSector: 21, dirSector: 24, records: Buffer.alloc(0) };
  const taken = new Set<string>();
  let next = 25;
  const entries: Entry[] = files.map((f) => {
    const extent = next;
    next += Math.max(1, Math.ceil(f.data.length / SECTOR));
    return { f, extent, pname: primaryName(f.name, taken) };
  });
  // Trailing padding as genisoimage writes it: probes (blkid, busybox findfs) and read-ahead read past the
  // last file, and on a tiny device those reads fail and the label is never seen.
  const totalSectors = next + PAD_SECTORS;
  primary.records = rootRecords(primary, entries, false, now);
  joliet.records = rootRecords(joliet, entries, true, now);

  const img = Buffer.alloc(totalSectors * SECTOR);
  const volume = { volumeId, totalSectors, now };
  descriptor(1, primary, false, volume).copy(img, 16 * SECTOR);
  descriptor(2, joliet, true, volume).copy(img, 17 * SECTOR);
  terminator().copy(img, 18 * SECTOR);
  for (const tree of [primary, joliet]) {
    pathTable(tree, false).copy(img, tree.pathSector * SECTOR);
    pathTable(tree, true).copy(img, (tree.pathSector + 1) * SECTOR);
    tree.records.copy(img, tree.dirSector * SECTOR);
  }
  entries.forEach((e) => e.f.data.copy(img, e.extent * SECTOR));
  return img;
}

function checkNames(files: IsoFile[]): void {
  const seen = new Set<string>();
  for (const f of files) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(f.name) || seen.has(f.name))
      throw new Error(`invalid file name ${f.name}`);
    seen.add(f.name);
  }
}

/** The root directory of one tree: `.`, `..`, then the files sorted by that tree's names. */
function rootRecords(tree: Tree, entries: Entry[], jol: boolean, now: Date): Buffer {
  const self = dirRecord(Buffer.from([0]), tree.dirSector, SECTOR, true, now);
  const parent = dirRecord(Buffer.from([1]), tree.dirSector, SECTOR, true, now);
  const sorted = [...entries].sort((a, b) =>
    jol ? (a.f.name < b.f.name ? -1 : 1) : a.pname < b.pname ? -1 : 1,
  );
  const recs = sorted.map((e) =>
    dirRecord(jol ? ucs2be(e.f.name) : Buffer.from(e.pname, "ascii"), e.extent, e.f.data.length, false, now),
  );
  const records = Buffer.concat([self, parent, ...recs]);
  if (records.length > SECTOR) throw new Error("too many files for a one-sector root directory");
  return records;
}

function pathTable(tree: Tree, bigEndian: boolean): Buffer {
  const t = Buffer.alloc(10);
  t[0] = 1;
  if (bigEndian) t.writeUInt32BE(tree.dirSector, 2);
  else t.writeUInt32LE(tree.dirSector, 2);
  if (bigEndian) t.writeUInt16BE(1, 6);
  else t.writeUInt16LE(1, 6);
  return t;
}

/** A primary (type 1) or Joliet supplementary (type 2) volume descriptor. */
function descriptor(
  type: number,
  tree: Tree,
  jol: boolean,
  volume: { volumeId: string; totalSectors: number; now: Date },
): Buffer {
  const d = Buffer.alloc(SECTOR);
  d[0] = type;
  d.write("CD001", 1, "ascii");
  d[6] = 1;
  const text = (s: string): Buffer => (jol ? ucs2be(s) : Buffer.from(s, "ascii"));
  padField(Buffer.alloc(0), 32, jol).copy(d, 8);
  padField(text(volume.volumeId), 32, jol).copy(d, 40);
  both32(d, 80, volume.totalSectors);
  if (jol) d.write("%/E", 88, "ascii");
  both16(d, 120, 1);
  both16(d, 124, 1);
  both16(d, 128, SECTOR);
  both32(d, 132, 10);
  d.writeUInt32LE(tree.pathSector, 140);
  d.writeUInt32BE(tree.pathSector + 1, 148);
  dirRecord(Buffer.from([0]), tree.dirSector, SECTOR, true, volume.now).copy(d, 156);
  // volume set, publisher, preparer, application; copyright, abstract, bibliographic file ids
  for (const [off, width] of [
    [190, 128],
    [318, 128],
    [446, 128],
    [574, 128],
    [702, 37],
    [739, 37],
    [776, 37],
  ] as const)
    padField(Buffer.alloc(0), width, jol).copy(d, off);
  volumeDate(volume.now).copy(d, 813);
  volumeDate(volume.now).copy(d, 830);
  Buffer.from("0000000000000000\0", "ascii").copy(d, 847);
  Buffer.from("0000000000000000\0", "ascii").copy(d, 864);
  d[881] = 1;
  return d;
}

function terminator(): Buffer {
  const term = Buffer.alloc(SECTOR);
  term[0] = 255;
  term.write("CD001", 1, "ascii");
  term[6] = 1;
  return term;
}
