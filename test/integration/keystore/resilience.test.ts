import { spawn } from "node:child_process";
import { writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureUserPassword, ensureUserRole, openKeystore } from "../../../src/keystore/index.js";
import type { Entry, Keystore } from "../../../src/keystore/index.js";
import { startEtcd } from "./etcd-fixture.js";
import type { EtcdFixture } from "./etcd-fixture.js";

let etcd: EtcdFixture;

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  await etcd?.stop();
});

const view = (entries: Map<string, Entry>) =>
  Object.fromEntries([...entries].map(([k, e]) => [k.slice(k.lastIndexOf("/") + 1), e.value]));

describe("auth changed by another client (fault 13)", () => {
  it("a user's reads racing root's role changes are retried on a fresh token, never fail", async () => {
    const root = await openKeystore({ config: etcd.config(), as: "root" });
    const cfg = etcd.config(await mkdtemp(join(tmpdir(), "ks-racer-")));
    const password = await ensureUserPassword(cfg.userDir);
    await ensureUserRole(root, "racer", password);
    const user = await openKeystore({ config: cfg, as: "user", user: "racer" });
    const watcher = await openKeystore({ config: cfg, as: "user", user: "racer" });
    try {
      await root.put("/pcocc/cluster/1/state/hosts/0", { state: "complete" });
      await user.get("/pcocc/cluster/1/state/hosts/0"); // holds a token from before the changes
      // what node 0's setup does on a first job while the other nodes wait for its records
      let done = false;
      const churn = (async () => {
        for (let i = 0; i < 25; i++) await ensureUserRole(root, `newcomer${i}`, password);
        done = true;
      })();
      let reads = 0;
      const reader = async (): Promise<void> => {
        while (!done) {
          const snap = await user.getPrefix("/pcocc/cluster/1/");
          expect(snap.entries.size).toBe(1);
          reads++;
        }
      };
      const waiting = watcher.waitFor("/pcocc/cluster/1/", (e) => (e.size === 2 ? true : undefined), {
        timeoutMs: 60_000,
        timeoutMessage: "the waiting client never saw the record",
      });
      await Promise.all([churn, reader(), reader(), reader()]);
      await root.put("/pcocc/cluster/1/lease", { user: "racer" });
      expect(await waiting).toBe(true);
      expect(reads).toBeGreaterThan(25);
    } finally {
      await Promise.all([user.close(), watcher.close(), root.close()]);
    }
  });
});

describe("following a prefix", () => {
  it("converges on etcd's state across an etcd restart and a compaction of the revision it resumes from", async () => {
    const watcherKs = await openKeystore({ config: etcd.config(), as: "root" });
    let latest: Record<string, unknown> = {};
    let notify = () => {};
    const following = await watcherKs.follow("/pcocc/global/w/", (entries) => {
      latest = view(entries);
      notify();
    });
    const until = (want: Record<string, unknown>) =>
      new Promise<void>((resolve) => {
        const check = () => JSON.stringify(latest) === JSON.stringify(want) && resolve();
        notify = check;
        check();
      });

    const writer1 = await openKeystore({ config: etcd.config(), as: "root" });
    await writer1.put("/pcocc/global/w/a", 1);
    await until({ a: 1 });
    await writer1.close();

    await etcd.restart();
    const writer2: Keystore = await openKeystore({ config: etcd.config(), as: "root" });
    await writer2.put("/pcocc/global/w/b", 2);
    await writer2.put("/pcocc/global/w/a", 3);
    const rev = await writer2.put("/pcocc/global/w/c", 4);
    await writer2.delete("/pcocc/global/w/c");
    await writer2.etcd.kv.compact({ revision: String(rev), physical: true });
    await until({ a: 3, b: 2 });
    await writer2.put("/pcocc/global/w/d", 5);
    await until({ a: 3, b: 2, d: 5 });

    await following.close();
    await writer2.close();
    await watcherKs.close();
  });
});

describe("closing", () => {
  it("does not wait for a hung etcd to confirm the cancel of its watches", async () => {
    const ks = await openKeystore({ config: etcd.config(), as: "root" });
    await ks.follow("/pcocc/global/hung/", () => {});
    etcd.pause();
    try {
      const outcome = await Promise.race([
        ks.close().then(() => "closed"),
        new Promise((r) => setTimeout(() => r("still closing after 20 s"), 20_000)),
      ]);
      expect(outcome).toBe("closed");
    } finally {
      etcd.resume();
    }
  });

  it("lets the process exit while watches and keep-alives were running", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ks-exit-"));
    const script = join(dir, "client.ts");
    const index = join(process.cwd(), "src/keystore/index.ts");
    await writeFile(
      script,
      `import { openKeystore, beginJob } from ${JSON.stringify(index)};
const ks = await openKeystore({ config: JSON.parse(process.env.KS_CONFIG!), as: "root" });
const job = await beginJob(ks, { jobId: 9, user: "alice" });
job.keepAlive();
await ks.follow("/pcocc/cluster/9/", () => {});
await job.put("rank_map", [0]);
await ks.close();
console.log("closed");
`,
    );
    const child = spawn(join(process.cwd(), "node_modules/.bin/vite-node"), [script], {
      env: { ...process.env, KS_CONFIG: JSON.stringify(etcd.config()) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    // A hung client is killed after a minute; the assertion is about exiting on its own with status 0.
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    clearTimeout(killer);
    expect(out.trim()).toBe("closed");
    expect(code).toBe(0);
  });
});
