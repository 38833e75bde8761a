import { describe, expect, it } from "vitest";
import { planGc } from "../../../src/image/gc.js";

const h = (c: string): string => c.repeat(64);
/** A staging entry whose writer touched it `ago` ms before gc. */
const e = (name: string, ago = 0) => ({ name, mtimeMs: 1_000_000 - ago });
const base = {
  now: 1_000_000,
  host: "node1",
  alive: (pid: number) => pid === 42,
};

describe("planGc", () => {
  it("deletes unreferenced blobs only", () => {
    const plan = planGc({
      ...base,
      blobs: [
        { hash: h("a"), ctimeMs: 10, bytes: 100 },
        { hash: h("b"), ctimeMs: 10, bytes: 200 },
      ],
      referenced: new Set([h("a")]),
      stagingEntries: [],
    });
    expect(plan.blobs.map((b) => b.hash)).toEqual([h("b")]);
  });

  it("removes leftovers of dead or foreign processes and keeps live ones", () => {
    const plan = planGc({
      ...base,
      blobs: [],
      referenced: new Set(),
      stagingEntries: [
        e("42.500.ab12.node1"), // live pid on this host
        e("43.500.ab12.node1"), // dead pid on this host
        e("43.999000.ab12.node2"), // other host, recent
        e("43.1.ab12.node2.example.com"), // other host with a dotted name, within a day
        e("tmpXYZ"), // not ours: pcocc leftover
      ],
    });
    expect(plan.staging.sort()).toEqual(["43.500.ab12.node1", "tmpXYZ"]);
  });

  it("expires other hosts' entries after a day, whatever their heartbeat", () => {
    const now = 2 * 24 * 3600 * 1000;
    const plan = planGc({
      ...base,
      now,
      blobs: [],
      referenced: new Set(),
      stagingEntries: [{ name: "43.1.ab12.node2", mtimeMs: now - 30_000 }],
    });
    expect(plan.staging).toEqual(["43.1.ab12.node2"]);
  });

  it("keeps unreferenced blobs that may belong to a commit in progress", () => {
    const plan = planGc({
      ...base,
      blobs: [
        { hash: h("a"), ctimeMs: 400, bytes: 1 }, // before the live commit started: garbage
        { hash: h("b"), ctimeMs: 600, bytes: 1 }, // after: may be about to get its meta file
      ],
      referenced: new Set(),
      stagingEntries: [e("42.500.ab12.node1")],
    });
    expect(plan.blobs.map((b) => b.hash)).toEqual([h("a")]);
  });

  it("removes another host's entry whose writer stopped its heartbeat, and only that one", () => {
    const plan = planGc({
      ...base,
      blobs: [],
      referenced: new Set(),
      stagingEntries: [
        e("43.900000.ab12.node2", 11 * 60_000), // killed ten minutes ago
        e("44.900000.ab12.node2", 60_000), // writing
      ],
    });
    expect(plan.staging).toEqual(["43.900000.ab12.node2"]);
  });

  it("an abandoned entry of another host still protects blobs it may have committed for a day", () => {
    const plan = planGc({
      ...base,
      blobs: [{ hash: h("a"), ctimeMs: 950_000, bytes: 1 }],
      referenced: new Set(),
      stagingEntries: [e("43.900000.ab12.node2", 11 * 60_000)],
    });
    expect(plan.staging).toEqual(["43.900000.ab12.node2"]);
    expect(plan.blobs).toEqual([]);
  });

  it("keeps blobs that appeared after gc started", () => {
    const plan = planGc({
      ...base,
      blobs: [{ hash: h("a"), ctimeMs: base.now + 1, bytes: 1 }],
      referenced: new Set(),
      stagingEntries: [],
    });
    expect(plan.blobs).toEqual([]);
  });
});
