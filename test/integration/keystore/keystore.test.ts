import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/index.js";
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
  roleName,
  watchHostStates,
  watchVmStates,
} from "../../../src/keystore/index.js";
import type { Keystore, KeystoreConfig, LeaseKeeper } from "../../../src/keystore/index.js";
import { hostProgressLine } from "../../../src/slurm/progress.js";
import { PcoccError } from "../../../src/util/errors.js";
import { useLab } from "../../support/lab.js";

// The lab's etcd is shared: this file uses job ids above SLURM's range, its own etcd users (not the lab's
// unix users, whose real passwords other tests rely on) and its own allocator keys, and removes them.
const tag = Math.floor(Math.random() * 1e6);
const JOB = 100_000_000 + tag * 100;
const U = (name: string) => `kst${tag}${name}`;
const ALLOC = `test/kst${tag}`;

let config: KeystoreConfig;
let root: Keystore;
const opened: Keystore[] = [];
const users: string[] = [];

async function open(cfg: KeystoreConfig, as: "root" | "user", user?: string): Promise<Keystore> {
  const ks = await openKeystore({ config: cfg, as, user });
  opened.push(ks);
  return ks;
}

async function userConfig(name: string): Promise<KeystoreConfig> {
  return { ...config, userDir: await mkdtemp(join(tmpdir(), `ks-${name}-`)) };
}

/** A pcocc user as root setup would register them: password file in their own dir, role in etcd. */
async function makeUser(name: string): Promise<{ ks: Keystore; config: KeystoreConfig }> {
  const cfg = await userConfig(name);
  await ensureUserRole(root, name, await ensureUserPassword(cfg.userDir));
  users.push(name);
  return { ks: await open(cfg, "user", name), config: cfg };
}

beforeAll(async () => {
  const lab = await useLab({ images: false });
  config = await loadConfig({ systemDir: lab.pcoccConfDir, user: false });
  root = await open(config, "root");
});

afterAll(async () => {
  if (root) {
    for (let j = JOB; j < JOB + 100; j++) await endJob(root, j);
    await root.deletePrefix(`/pcocc/global/${ALLOC}`);
    for (const u of new Set(users)) {
      await root.etcd.auth.userDelete({ name: u }).catch(() => {});
      await root.etcd.auth.roleDelete({ role: roleName(u) }).catch(() => {});
    }
  }
  await Promise.all(opened.map((ks) => ks.close()));
});

describe("authentication", () => {
  it("root reads and writes with the system password; values are JSON", async () => {
    await root.put(`/pcocc/global/test/kst${tag}/a`, { x: 1 });
    expect((await root.get(`/pcocc/global/test/kst${tag}/a`))?.value).toEqual({ x: 1 });
    await root.putMany(
      Array.from({ length: 300 }, (_, i) => ({ key: `/pcocc/global/test/kst${tag}/many/${i}`, value: i })),
    );
    expect((await root.getPrefix(`/pcocc/global/test/kst${tag}/many/`)).entries.size).toBe(300);
  });

  it("refuses a wrong password and unauthenticated access", async () => {
    const wrong = await userConfig("wrong");
    await ensureUserPassword(wrong.userDir); // never registered in etcd
    const ks = await open(wrong, "user", U("mallory"));
    await expect(ks.get("/pcocc/cluster/1/lease")).rejects.toThrow(
      /authentication error: access denied for kst\d+mallory/,
    );
    const anon = await open(
      { ...wrong, batch: { settings: { ...wrong.batch.settings, "etcd-auth-type": "none" } } },
      "user",
    );
    await expect(anon.get(`/pcocc/global/test/kst${tag}/a`)).rejects.toThrow(PcoccError);
  });

  it("ensureUserRole is idempotent and follows a changed password", async () => {
    const { config } = await makeUser(U("carol"));
    const pw = await ensureUserPassword(config.userDir);
    await ensureUserRole(root, U("carol"), pw);
    const other = "0123456789abcdef0123456789abcdef";
    await ensureUserRole(root, U("carol"), other);
    const stale = await open(config, "user", U("carol"));
    await expect(stale.get("/pcocc/cluster/1/x")).rejects.toThrow(/access denied/);
    await ensureUserRole(root, U("carol"), pw);
    const fresh = await open(config, "user", U("carol"));
    expect(await fresh.get("/pcocc/cluster/1/x")).toBeUndefined();
    await expect(ensureUserRole(root, U("carol"), "not-hex")).rejects.toThrow(/invalid keystore credential/);
    await expect(ensureUserRole(root, "root", pw)).rejects.toThrow(PcoccError);
  });
});

describe("per-user isolation (real etcd auth)", () => {
  it("a second user can neither read nor change the first user's job keys", async () => {
    const alice = await makeUser(U("alice"));
    const bob = await makeUser(U("bob"));
    const job = await beginJob(root, { jobId: JOB + 1, user: U("alice") });
    await putHostState(job, 0, "complete");

    const aliceJob = await joinJob(alice.ks, { jobId: JOB + 1 });
    await aliceJob.putUser("definition", "tpl:2");
    await aliceJob.putGlobalUser("ca_cert", { key_data: "secret" });
    expect((await alice.ks.get(`${clusterUserPrefix(U("alice"), JOB + 1)}definition`))?.value).toBe("tpl:2");

    // bob sees the public cluster tree (as in pcocc) but nothing of alice's own keys
    expect((await bob.ks.get(leaseRecordKey(JOB + 1)))?.value).toEqual({ user: U("alice") });
    await expect(bob.ks.get(`${clusterUserPrefix(U("alice"), JOB + 1)}definition`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(bob.ks.getPrefix(`/pcocc/global/users/${U("alice")}/`)).rejects.toThrow(/permission denied/);
    await expect(bob.ks.put(`${clusterUserPrefix(U("alice"), JOB + 1)}definition`, "evil")).rejects.toThrow(
      /permission denied/,
    );
    await expect(bob.ks.deletePrefix(`/pcocc/cluster/users/${U("alice")}/`)).rejects.toThrow(
      /permission denied/,
    );
    // users cannot forge root's job keys either
    // users cannot forge root's job keys either
    await expect(
      alice.ks.put(`/pcocc/cluster/${JOB + 1}/state/hosts/1`, { state: "complete" }),
    ).rejects.toThrow(/permission denied/);
    await expect(aliceJob.put("rank_map", [0])).rejects.toThrow(/permission denied/);
    expect((await root.get(`${clusterUserPrefix(U("alice"), JOB + 1)}definition`))?.value).toBe("tpl:2");
    await endJob(root, JOB + 1);
  });

  it("another user can neither learn a job's lease ids nor poison or revoke its leases (hole 5)", async () => {
    const alice = await makeUser(U("alice"));
    const bob = await makeUser(U("bob"));
    const job = await beginJob(root, { jobId: JOB + 9, user: U("alice") });
    const aliceJob = await joinJob(alice.ks, { jobId: JOB + 9 });
    expect([aliceJob.lease, aliceJob.userLease]).toEqual([job.lease, job.userLease]);

    // the ids are nowhere bob can read them: not in the public record, not in root's or alice's copies
    expect(JSON.stringify((await bob.ks.get(leaseRecordKey(JOB + 9)))?.value)).not.toContain(job.userLease);
    await expect(bob.ks.get(`/pcocc/global/jobs/${JOB + 9}/lease`)).rejects.toThrow(/permission denied/);
    await expect(bob.ks.get(`${clusterUserPrefix(U("alice"), JOB + 9)}lease`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(joinJob(bob.ks, { jobId: JOB + 9, timeoutMs: 500 })).rejects.toThrow(/Timeout waiting/);
    // ... nor guessable: root chooses them at random, not etcd's counter
    const more = await Promise.all([root.grantLease(5), root.grantLease(5)]);
    expect(Math.abs(Number(BigInt(more[0]!) - BigInt(more[1]!)))).toBeGreaterThan(1e6);
    await Promise.all(more.map((id) => root.revokeLease(id)));

    // even with the ids (leaked), bob cannot attach a key of his to either lease, nor revoke them
    const bobKey = `${clusterUserPrefix(U("bob"), JOB + 9)}poison`;
    for (const lease of [job.userLease, job.lease]) {
      await expect(bob.ks.put(bobKey, 1, { lease })).rejects.toThrow(/permission denied/);
      await expect(bob.ks.revokeLease(lease)).rejects.toThrow(/permission denied/);
    }
    expect(await root.get(bobKey)).toBeUndefined();
    // ... so alice's writes still go through and both leases are alive
    await aliceJob.putUser("definition", "tpl:1");
    await aliceJob.putGlobalUser("ca_cert", { key_data: "x" });
    expect(await root.leaseTtl(job.lease)).toBeGreaterThan(0);
    expect(await root.leaseTtl(job.userLease)).toBeGreaterThan(0);
    await endJob(root, JOB + 9);
    expect(await root.get(`${clusterUserPrefix(U("alice"), JOB + 9)}definition`)).toBeUndefined();
  });
});

describe("job leases", () => {
  it("a job's keys vanish when its lease is no longer kept alive, and stay while it is", async () => {
    const dave = await makeUser(U("dave"));
    const job = await beginJob(root, { jobId: JOB + 2, user: U("dave"), ttlSeconds: 2 });
    await putHostState(job, 0, "complete");
    const djob = await joinJob(dave.ks, { jobId: JOB + 2 });
    await putVmState(djob, 0, "running", { hostname: "vm0" });

    const keeper = djob.keepAlive();
    await new Promise((r) => setTimeout(r, 5_000)); // more than two TTLs
    expect(await root.get(leaseRecordKey(JOB + 2))).toBeDefined();
    expect(await root.get(`${clusterUserPrefix(U("dave"), JOB + 2)}state/vms/0`)).toBeDefined();
    keeper.close();

    await root.waitFor(`/pcocc/cluster/${JOB + 2}/`, (e) => (e.size === 0 ? true : undefined), {
      timeoutMs: 30_000,
      timeoutMessage: "job keys did not expire",
    });
    expect((await root.getPrefix(clusterUserPrefix(U("dave"), JOB + 2))).entries.size).toBe(0);
  });

  it("endJob removes the keys at once; a reused job id never joins the old lease", async () => {
    const old = await beginJob(root, { jobId: JOB + 3, user: U("alice") });
    await old.put("rank_map", [0, 1]);
    await endJob(root, JOB + 3);
    expect((await root.getPrefix(`/pcocc/cluster/${JOB + 3}/`)).entries.has(leaseRecordKey(JOB + 3))).toBe(
      false,
    );
    expect(await root.get(`/pcocc/cluster/${JOB + 3}/rank_map`)).toBeUndefined();

    // a late node of the new job JOB + 3 waits for the new record instead of taking stale state
    const joining = joinJob(root, { jobId: JOB + 3, timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    const fresh = await beginJob(root, { jobId: JOB + 3, user: U("alice") });
    const joined = await joining;
    expect(joined.lease).toBe(fresh.lease);
    expect(joined.lease).not.toBe(old.lease);
    await endJob(root, JOB + 3);
  });

  it("a crashed job's leftovers are revoked when its id is reused", async () => {
    const crashed = await beginJob(root, { jobId: JOB + 4, user: U("alice") });
    await crashed.put("rank_map", [0]);
    const next = await beginJob(root, { jobId: JOB + 4, user: U("bob") });
    expect(await root.get(`/pcocc/cluster/${JOB + 4}/rank_map`)).toBeUndefined();
    expect(await root.leaseTtl(crashed.lease)).toBe(-1);
    expect((await joinJob(root, { jobId: JOB + 4 })).user).toBe(U("bob"));
    await endJob(root, next.jobId);
  });

  it("a process keeping a job alive learns when the job's leases are gone", async () => {
    const job = await beginJob(root, { jobId: JOB + 8, user: U("alice"), ttlSeconds: 2 });
    let keeper: LeaseKeeper | undefined;
    const lost = new Promise<void>((resolve) => (keeper = job.keepAlive(resolve)));
    await endJob(root, JOB + 8);
    await lost;
    keeper?.close();
  });

  it("joinJob times out with a clear message when the job is never set up", async () => {
    await expect(joinJob(root, { jobId: JOB + 5, timeoutMs: 500 })).rejects.toThrow(
      /Timeout waiting for key/,
    );
  });
});

describe("host and VM states", () => {
  it("are watched, not polled, until every node is complete", async () => {
    const job = await beginJob(root, { jobId: JOB + 6, user: U("alice") });
    const seen: string[] = [];
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const following = await watchHostStates(root, JOB + 6, (states) => {
      seen.push(hostProgressLine([0, 1].map((rank) => ({ node: `n${rank}`, ...states.get(rank) }))));
      if ([0, 1].every((rank) => states.get(rank)?.state === "complete")) resolveDone();
    });
    await putHostState(job, 0, "network-config");
    await putHostState(job, 1, "network-config");
    await putHostState(job, 0, "complete");
    await putHostState(job, 1, "complete");
    await done;
    await following.close();
    expect(seen[0]).toBe("configuring hosts 0/2 — n0: waiting for batch manager");
    expect(seen.at(-1)).toBe("configuring hosts 2/2");

    const alice = (await makeUser(U("alice"))).ks;
    const ajob = await joinJob(alice, { jobId: JOB + 6 });
    let vmRunning!: (hostname: string | undefined) => void;
    const vmsSeen = new Promise<string | undefined>((r) => (vmRunning = r));
    const vmFollowing = await watchVmStates(alice, U("alice"), JOB + 6, (states) => {
      if (states.get(1)?.state === "running") vmRunning(states.get(1)?.hostname);
    });
    await putVmState(ajob, 1, "qemu-start");
    await putVmState(ajob, 1, "running", { hostname: "vm1" });
    expect(await vmsSeen).toBe("vm1");
    await vmFollowing.close();
    await endJob(root, JOB + 6);
  });
});

describe("IdAllocator", () => {
  it("never gives one id to two live jobs under concurrent allocation from many clients", async () => {
    const clients = [root, await open(config, "root"), await open(config, "root")];
    const jobs = Array.from({ length: 30 }, (_, i) => 1000 + i);
    const results = await Promise.all(
      jobs.map((job, i) => new IdAllocator(clients[i % clients.length]!, `${ALLOC}/vni`, 500).alloc(job, 3)),
    );
    const all = results.flat();
    expect(new Set(all).size).toBe(90);
    expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: 90 }, (_, i) => i));
    const state = await new IdAllocator(root, `${ALLOC}/vni`, 500).list();
    results.forEach((ids, i) => {
      for (const id of ids) expect(state.find((e) => e.id === id)?.job).toBe(jobs[i]);
    });
  });

  it("frees per job, fills gaps lowest first, refuses exhaustion and reclaims dead jobs", async () => {
    const a = new IdAllocator(root, `${ALLOC}/natip`, 6);
    expect(await a.alloc(1, 2)).toEqual([0, 1]);
    expect(await a.alloc(2, 2)).toEqual([2, 3]);
    await a.free(2, [0, 1]); // not job 2's: no-op
    await a.free(1, [0]);
    expect(await a.alloc(3, 2)).toEqual([0, 4]);
    await expect(a.alloc(4, 3)).rejects.toThrow(/Not enough free ids in test\/kst\d+\/natip/);
    await a.freeJob(2);
    expect((await a.list()).map((e) => e.id)).toEqual([0, 1, 4]);
    expect(await a.cleanup([3])).toBe(1); // job 1 is gone
    expect(await a.alloc(5, 3, { liveJobs: [] })).toEqual([0, 1, 2]); // job 3 reclaimed in the same txn
    expect((await a.list()).every((e) => e.job === 5)).toBe(true);
  });

  it("collective allocation: the master allocates, other nodes wait on a watch and get the same ids", async () => {
    const job = await beginJob(root, { jobId: JOB + 7, user: U("alice") });
    const others = [1, 2].map(async (rank) => {
      const ks = await open(config, "root");
      const j = await joinJob(ks, { jobId: JOB + 7 });
      return new IdAllocator(ks, `${ALLOC}/coll`, 100).collectiveAlloc(j, {
        count: 2,
        master: 0,
        nodeRank: rank,
        name: "n_tun_key",
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    const master = new IdAllocator(root, `${ALLOC}/coll`, 100);
    const mine = await master.collectiveAlloc(job, { count: 2, master: 0, nodeRank: 0, name: "n_tun_key" });
    expect(await Promise.all(others)).toEqual([mine, mine]);
    expect(
      await master.collectiveAlloc(job, { count: 2, master: 0, nodeRank: 0, name: "n_tun_key" }),
    ).toEqual(mine);
    await expect(
      master.collectiveAlloc(job, { count: 1, master: 0, nodeRank: 1, name: "never", timeoutMs: 300 }),
    ).rejects.toThrow(/Timeout waiting for key/);
    await endJob(root, JOB + 7);
  });
});
