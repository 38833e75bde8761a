import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  IdAllocator,
  beginJob,
  clusterUserPrefix,
  endJob,
  ensureUserPassword,
  ensureUserRole,
  joinJob,
  leaseRecordKey,
  openKeystore,
  putHostState,
  putVmState,
  summarizeHosts,
  watchHostStates,
  watchVmStates,
} from "../../../src/keystore/index.js";
import type { Keystore, KeystoreConfig } from "../../../src/keystore/index.js";
import { PcoccError } from "../../../src/util/errors.js";
import { startEtcd } from "./etcd-fixture.js";
import type { EtcdFixture } from "./etcd-fixture.js";

let etcd: EtcdFixture;
let root: Keystore;
const opened: Keystore[] = [];

async function open(config: KeystoreConfig, as: "root" | "user", user?: string): Promise<Keystore> {
  const ks = await openKeystore({ config, as, user });
  opened.push(ks);
  return ks;
}

/** A pcocc user as root setup would register them: password file in their own dir, role in etcd. */
async function makeUser(name: string): Promise<{ ks: Keystore; config: KeystoreConfig }> {
  const config = etcd.config(await mkdtemp(join(tmpdir(), `ks-${name}-`)));
  await ensureUserRole(root, name, await ensureUserPassword(config.userDir));
  return { ks: await open(config, "user", name), config };
}

beforeAll(async () => {
  etcd = await startEtcd();
  root = await open(etcd.config(), "root");
});

afterAll(async () => {
  await Promise.all(opened.map((ks) => ks.close()));
  await etcd?.stop();
});

describe("authentication", () => {
  it("root reads and writes with the system password; values are JSON", async () => {
    await root.put("/pcocc/global/test/a", { x: 1 });
    expect((await root.get("/pcocc/global/test/a"))?.value).toEqual({ x: 1 });
    await root.putMany(
      Array.from({ length: 300 }, (_, i) => ({ key: `/pcocc/global/test/many/${i}`, value: i })),
    );
    expect((await root.getPrefix("/pcocc/global/test/many/")).entries.size).toBe(300);
  });

  it("refuses a wrong password and unauthenticated access", async () => {
    const wrong = etcd.config(await mkdtemp(join(tmpdir(), "ks-wrong-")));
    await ensureUserPassword(wrong.userDir); // never registered in etcd
    const ks = await open(wrong, "user", "mallory");
    await expect(ks.get("/pcocc/cluster/1/lease")).rejects.toThrow(
      /authentication error: access denied for mallory/,
    );
    const anon = await open(
      { ...wrong, batch: { settings: { ...wrong.batch.settings, "etcd-auth-type": "none" } } },
      "user",
    );
    await expect(anon.get("/pcocc/global/test/a")).rejects.toThrow(PcoccError);
  });

  it("ensureUserRole is idempotent and follows a changed password", async () => {
    const { config } = await makeUser("carol");
    const pw = await ensureUserPassword(config.userDir);
    await ensureUserRole(root, "carol", pw);
    const other = "0123456789abcdef0123456789abcdef";
    await ensureUserRole(root, "carol", other);
    const stale = await open(config, "user", "carol");
    await expect(stale.get("/pcocc/cluster/1/x")).rejects.toThrow(/access denied/);
    await ensureUserRole(root, "carol", pw);
    const fresh = await open(config, "user", "carol");
    expect(await fresh.get("/pcocc/cluster/1/x")).toBeUndefined();
    await expect(ensureUserRole(root, "carol", "not-hex")).rejects.toThrow(/invalid keystore credential/);
    await expect(ensureUserRole(root, "root", pw)).rejects.toThrow(PcoccError);
  });
});

describe("per-user isolation (real etcd auth)", () => {
  it("a second user can neither read nor change the first user's job keys", async () => {
    const alice = await makeUser("alice");
    const bob = await makeUser("bob");
    const job = await beginJob(root, { jobId: 101, user: "alice" });
    await putHostState(job, 0, "complete");

    const aliceJob = await joinJob(alice.ks, { jobId: 101 });
    await aliceJob.putUser("definition", "tpl:2");
    await aliceJob.putGlobalUser("ca_cert", { key_data: "secret" });
    expect((await alice.ks.get(`${clusterUserPrefix("alice", 101)}definition`))?.value).toBe("tpl:2");

    // bob sees the public cluster tree (as in pcocc) but nothing of alice's own keys
    const bobJob = await joinJob(bob.ks, { jobId: 101 });
    expect(bobJob.user).toBe("alice");
    await expect(bob.ks.get(`${clusterUserPrefix("alice", 101)}definition`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(bob.ks.getPrefix("/pcocc/global/users/alice/")).rejects.toThrow(/permission denied/);
    await expect(bob.ks.put(`${clusterUserPrefix("alice", 101)}definition`, "evil")).rejects.toThrow(
      /permission denied/,
    );
    await expect(bobJob.putUser("definition", "evil")).rejects.toThrow(/permission denied/);
    await expect(bob.ks.deletePrefix("/pcocc/cluster/users/alice/")).rejects.toThrow(/permission denied/);
    await expect(bob.ks.revokeLease(job.userLease)).rejects.toThrow(/permission denied/);
    // users cannot forge root's job keys either
    await expect(alice.ks.put("/pcocc/cluster/101/state/hosts/1", { state: "complete" })).rejects.toThrow(
      /permission denied/,
    );
    await expect(aliceJob.put("rank_map", [0])).rejects.toThrow(/permission denied/);
    expect((await root.get(`${clusterUserPrefix("alice", 101)}definition`))?.value).toBe("tpl:2");
    await endJob(root, 101);
  });
});

describe("job leases", () => {
  it("a job's keys vanish when its lease is no longer kept alive, and stay while it is", async () => {
    const dave = await makeUser("dave");
    const job = await beginJob(root, { jobId: 202, user: "dave", ttlSeconds: 2 });
    await putHostState(job, 0, "complete");
    const djob = await joinJob(dave.ks, { jobId: 202 });
    await putVmState(djob, 0, "running", { hostname: "vm0" });

    const keeper = djob.keepAlive();
    await new Promise((r) => setTimeout(r, 5_000)); // more than two TTLs
    expect(await root.get(leaseRecordKey(202))).toBeDefined();
    expect(await root.get(`${clusterUserPrefix("dave", 202)}state/vms/0`)).toBeDefined();
    keeper.close();

    await root.waitFor("/pcocc/cluster/202/", (e) => (e.size === 0 ? true : undefined), {
      timeoutMs: 30_000,
      timeoutMessage: "job keys did not expire",
    });
    expect((await root.getPrefix(clusterUserPrefix("dave", 202))).entries.size).toBe(0);
  });

  it("endJob removes the keys at once; a reused job id never joins the old lease", async () => {
    const old = await beginJob(root, { jobId: 303, user: "alice" });
    await old.put("rank_map", [0, 1]);
    await endJob(root, 303);
    expect((await root.getPrefix("/pcocc/cluster/303/")).entries.has(leaseRecordKey(303))).toBe(false);
    expect(await root.get("/pcocc/cluster/303/rank_map")).toBeUndefined();

    // a late node of the new job 303 waits for the new record instead of taking stale state
    const joining = joinJob(root, { jobId: 303, timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    const fresh = await beginJob(root, { jobId: 303, user: "alice" });
    const joined = await joining;
    expect(joined.lease).toBe(fresh.lease);
    expect(joined.lease).not.toBe(old.lease);
    await endJob(root, 303);
  });

  it("a crashed job's leftovers are revoked when its id is reused", async () => {
    const crashed = await beginJob(root, { jobId: 404, user: "alice" });
    await crashed.put("rank_map", [0]);
    const next = await beginJob(root, { jobId: 404, user: "bob" });
    expect(await root.get("/pcocc/cluster/404/rank_map")).toBeUndefined();
    expect(await root.leaseTtl(crashed.lease)).toBe(-1);
    expect((await joinJob(root, { jobId: 404 })).user).toBe("bob");
    await endJob(root, next.jobId);
  });

  it("joinJob times out with a clear message when the job is never set up", async () => {
    await expect(joinJob(root, { jobId: 505, timeoutMs: 500 })).rejects.toThrow(/Timeout waiting for key/);
  });
});

describe("host and VM states", () => {
  it("are watched, not polled, until every node is complete", async () => {
    const job = await beginJob(root, { jobId: 606, user: "alice" });
    const seen: string[] = [];
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const following = await watchHostStates(root, 606, (states) => {
      const p = summarizeHosts(states, 2);
      seen.push(`${p.done}/${p.total}:${p.slowest?.state ?? "-"}`);
      if (p.complete) resolveDone();
    });
    await putHostState(job, 0, "network-config");
    await putHostState(job, 1, "network-config");
    await putHostState(job, 0, "complete");
    await putHostState(job, 1, "complete");
    await done;
    await following.close();
    expect(seen[0]).toBe("0/2:not-started");
    expect(seen.at(-1)).toBe("2/2:-");

    const alice = (await makeUser("alice")).ks;
    const ajob = await joinJob(alice, { jobId: 606 });
    let vmRunning!: (hostname: string | undefined) => void;
    const vmsSeen = new Promise<string | undefined>((r) => (vmRunning = r));
    const vmFollowing = await watchVmStates(alice, "alice", 606, (states) => {
      if (states.get(1)?.state === "running") vmRunning(states.get(1)?.hostname);
    });
    await putVmState(ajob, 1, "qemu-start");
    await putVmState(ajob, 1, "running", { hostname: "vm1" });
    expect(await vmsSeen).toBe("vm1");
    await vmFollowing.close();
    await endJob(root, 606);
  });
});

describe("IdAllocator", () => {
  it("never gives one id to two live jobs under concurrent allocation from many clients", async () => {
    const clients = [root, await open(etcd.config(), "root"), await open(etcd.config(), "root")];
    const jobs = Array.from({ length: 30 }, (_, i) => 1000 + i);
    const results = await Promise.all(
      jobs.map((job, i) => new IdAllocator(clients[i % clients.length]!, "test/vni", 500).alloc(job, 3)),
    );
    const all = results.flat();
    expect(new Set(all).size).toBe(90);
    expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: 90 }, (_, i) => i));
    const state = await new IdAllocator(root, "test/vni", 500).list();
    results.forEach((ids, i) => {
      for (const id of ids) expect(state.find((e) => e.id === id)?.job).toBe(jobs[i]);
    });
  });

  it("frees per job, fills gaps lowest first, refuses exhaustion and reclaims dead jobs", async () => {
    const a = new IdAllocator(root, "test/natip", 6);
    expect(await a.alloc(1, 2)).toEqual([0, 1]);
    expect(await a.alloc(2, 2)).toEqual([2, 3]);
    await a.free(2, [0, 1]); // not job 2's: no-op
    await a.free(1, [0]);
    expect(await a.alloc(3, 2)).toEqual([0, 4]);
    await expect(a.alloc(4, 3)).rejects.toThrow(/Not enough free ids in test\/natip/);
    await a.freeJob(2);
    expect((await a.list()).map((e) => e.id)).toEqual([0, 1, 4]);
    expect(await a.cleanup([3])).toBe(1); // job 1 is gone
    expect(await a.alloc(5, 3, { liveJobs: [] })).toEqual([0, 1, 2]); // job 3 reclaimed in the same txn
    expect((await a.list()).every((e) => e.job === 5)).toBe(true);
  });

  it("collective allocation: the master allocates, other nodes wait on a watch and get the same ids", async () => {
    const job = await beginJob(root, { jobId: 707, user: "alice" });
    const others = [1, 2].map(async (rank) => {
      const ks = await open(etcd.config(), "root");
      const j = await joinJob(ks, { jobId: 707 });
      return new IdAllocator(ks, "test/coll", 100).collectiveAlloc(j, {
        count: 2,
        master: 0,
        nodeRank: rank,
        name: "n_tun_key",
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    const master = new IdAllocator(root, "test/coll", 100);
    const mine = await master.collectiveAlloc(job, { count: 2, master: 0, nodeRank: 0, name: "n_tun_key" });
    expect(await Promise.all(others)).toEqual([mine, mine]);
    expect(
      await master.collectiveAlloc(job, { count: 2, master: 0, nodeRank: 0, name: "n_tun_key" }),
    ).toEqual(mine);
    await expect(
      master.collectiveAlloc(job, { count: 1, master: 0, nodeRank: 1, name: "never", timeoutMs: 300 }),
    ).rejects.toThrow(/Timeout waiting for key/);
    await endJob(root, 707);
  });
});
