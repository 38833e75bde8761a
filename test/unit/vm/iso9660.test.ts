import { describe, expect, it } from "vitest";
import { buildIso9660, primaryName } from "../../../src/vm/iso9660.js";

const SECTOR = 2048;

/** Reads the root directory of a descriptor (independently of the writer) → name → content. */
function readRoot(img: Buffer, descriptorSector: number, joliet: boolean): Map<string, string> {
  const d = img.subarray(descriptorSector * SECTOR);
  const rootExtent = d.readUInt32LE(156 + 2);
  const rootSize = d.readUInt32LE(156 + 10);
  const dir = img.subarray(rootExtent * SECTOR, rootExtent * SECTOR + rootSize);
  const files = new Map<string, string>();
  for (let off = 0; off < dir.length && dir[off]! > 0; off += dir[off]!) {
    const idLen = dir[off + 32]!;
    const id = dir.subarray(off + 33, off + 33 + idLen);
    if (idLen === 1 && id[0]! <= 1) continue;
    const name = joliet ? id.swap16().toString("utf16le") : id.toString("ascii");
    const extent = dir.readUInt32LE(off + 2);
    const size = dir.readUInt32LE(off + 10);
    files.set(name, img.subarray(extent * SECTOR, extent * SECTOR + size).toString());
  }
  return files;
}

describe("buildIso9660", () => {
  const files = [
    { name: "user-data", data: Buffer.from("#cloud-config\nruncmd: [echo hi]\n") },
    { name: "meta-data", data: Buffer.from("instance-id: i-1\nlocal-hostname: vm3\n") },
  ];
  const img = buildIso9660(files, "cidata", new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));

  it("writes a primary and a Joliet volume descriptor labelled cidata", () => {
    expect(img.length % SECTOR).toBe(0);
    expect(img.subarray(16 * SECTOR, 16 * SECTOR + 6).toString("latin1")).toBe("\x01CD001");
    expect(img.subarray(16 * SECTOR + 40, 16 * SECTOR + 46).toString("ascii")).toBe("cidata");
    expect(img[17 * SECTOR]).toBe(2);
    expect(img.subarray(17 * SECTOR + 88, 17 * SECTOR + 91).toString("ascii")).toBe("%/E");
    expect(
      img
        .subarray(17 * SECTOR + 40, 17 * SECTOR + 52)
        .swap16()
        .toString("utf16le"),
    ).toBe("cidata");
    expect(img[18 * SECTOR]).toBe(255);
    expect(img.readUInt32LE(16 * SECTOR + 80)).toBe(img.length / SECTOR);
  });

  it("keeps the real names in the Joliet tree and 8.3 names in the primary one", () => {
    const joliet = readRoot(img, 17, true);
    expect([...joliet.keys()]).toEqual(["meta-data", "user-data"]);
    expect(joliet.get("meta-data")).toContain("local-hostname: vm3");
    expect(joliet.get("user-data")).toContain("runcmd");
    expect([...readRoot(img, 16, false).keys()]).toEqual(["META_DAT.;1", "USER_DAT.;1"]);
  });

  it("makes 8.3 names unique and rejects unusable file names", () => {
    const taken = new Set<string>();
    expect(primaryName("network-config", taken)).toBe("NETWORK_.;1");
    expect(primaryName("network-configx", taken)).toBe("NETWORK1.;1");
    expect(() => buildIso9660([{ name: "a/b", data: Buffer.alloc(0) }], "cidata")).toThrow(
      /invalid file name/,
    );
  });
});
