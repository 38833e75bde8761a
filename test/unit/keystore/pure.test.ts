import { mkdtemp, readFile, stat, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkJobId,
  checkUserName,
  endpointsOf,
  ensureUserPassword,
  pickFreeIds,
  pickRandomFreeIds,
  readUserPassword,
} from "../../../src/keystore/index.js";
import type { KeystoreConfig } from "../../../src/keystore/index.js";
import { readRootPassword } from "../../../src/keystore/credentials.js";
import { PcoccError } from "../../../src/util/errors.js";

const owners = (...pairs: Array<[number, number]>) => pairs.map(([id, job]) => ({ id, job }));

describe("pickFreeIds", () => {
  it("fills gaps lowest first, then continues after the highest", () => {
    expect(pickFreeIds(owners([1, 7], [3, 7], [4, 8]), 10, 4)).toEqual([0, 2, 5, 6]);
    expect(pickFreeIds([], 10, 3)).toEqual([0, 1, 2]);
  });
  it("returns nothing when the range cannot hold the request", () => {
    expect(pickFreeIds(owners([0, 1], [1, 1]), 3, 2)).toEqual([]);
    expect(pickFreeIds(owners([0, 1], [1, 1]), 3, 1)).toEqual([2]);
  });
});

describe("pickRandomFreeIds", () => {
  it("draws distinct free ids, spread over the range (a VNI must not be guessable)", () => {
    const used = owners([0, 1], [1, 1], [2, 1]);
    const picks = Array.from({ length: 20 }, () => pickRandomFreeIds(used, 64512, 2));
    for (const p of picks) {
      expect(p).toHaveLength(2);
      expect(new Set(p).size).toBe(2);
      for (const id of p) expect(id >= 3 && id < 64512).toBe(true);
    }
    expect(new Set(picks.map((p) => p[0])).size).toBeGreaterThan(15);
  });
  it("fills a nearly full range lowest first, and refuses what it cannot hold", () => {
    expect(pickRandomFreeIds(owners([0, 1], [2, 1]), 4, 2)).toEqual([1, 3]);
    expect(pickRandomFreeIds(owners([0, 1], [1, 1]), 3, 2)).toEqual([]);
  });
});

describe("key path segments", () => {
  it("accepts user names and job ids, refuses path tricks", () => {
    expect(checkUserName("alice")).toBe("alice");
    expect(checkJobId(42)).toBe(42);
    for (const bad of ["../root", "a/b", "", "x y", "a".repeat(40)]) {
      expect(() => checkUserName(bad)).toThrow(PcoccError);
    }
    for (const bad of [-1, 1.5, Number.NaN]) expect(() => checkJobId(bad)).toThrow(PcoccError);
  });
});

describe("endpoints", () => {
  it("are built from batch.yaml settings", () => {
    const config: KeystoreConfig = {
      systemDir: "/etc/pcocc",
      userDir: "/home/u/.pcocc",
      batch: {
        settings: {
          "etcd-servers": ["etcd1", "fd00::1"],
          "etcd-client-port": 2379,
          "etcd-protocol": "https",
          "etcd-auth-type": "password",
        },
      },
    };
    expect(endpointsOf(config)).toEqual(["https://etcd1:2379", "https://[fd00::1]:2379"]);
  });
});

describe("credentials", () => {
  it("generates a 32-hex, 0400 user password once and then reuses it", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), "ks-cred-")), "pcocc");
    const [a, b] = await Promise.all([ensureUserPassword(dir), ensureUserPassword(dir)]);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(b).toBe(a);
    expect(await ensureUserPassword(dir)).toBe(a);
    expect(await readUserPassword(dir)).toBe(a);
    expect((await stat(join(dir, ".etcd-password"))).mode & 0o777).toBe(0o400);
    expect((await readFile(join(dir, ".etcd-password"), "utf8")).trim()).toBe(a);
  });
  it("refuses a corrupt or missing user password file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ks-cred-"));
    await expect(readUserPassword(dir)).rejects.toThrow(/created by your first pcocc alloc/);
    await writeFile(join(dir, ".etcd-password"), "short\n");
    await expect(ensureUserPassword(dir)).rejects.toThrow(/is invalid, please delete it/);
  });
  it("refuses a root password file readable by others", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ks-cred-"));
    const file = join(dir, "etcd-password");
    await writeFile(file, "secret\n", { mode: 0o644 });
    await chmod(file, 0o644);
    await expect(readRootPassword(dir)).rejects.toThrow(/accessible by other users/);
    await chmod(file, 0o600);
    expect(await readRootPassword(dir)).toBe("secret");
  });
});
