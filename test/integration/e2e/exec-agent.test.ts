import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userEnv, userExec, type LabInfo } from "../../../src/lab/index.js";
import { jobStateDir, vmStatePaths } from "../../../src/vm/index.js";
import {
  e2eSetup,
  expectJobGone,
  expectNoJobKeys,
  expectNodesClean,
  jobIdFrom,
  spawnPcocc,
  TINY,
  waitUntil,
  writeUserScript,
  type NodeSnapshot,
} from "./support.js";

// tells this run's output from a stale pcocc_<id>.out of an earlier lab life that reused the job id
const RUN = `run-${process.pid}-${Date.now()}`;
const RELEASE = "e2e-exec-release";

/**
 * `pcocc exec` and `pcocc agent` against one lab-tiny:4 cluster on 2 nodes (vm0, vm1 on the first node,
 * vm2, vm3 on the second): every command runs from the login node, so every VM is reached through a relay
 * on its node; then one `batch -b` job.
 */
describe("pcocc exec / agent through the guest agent (lab-tiny:4 on 2 nodes)", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let jobId: number;
  const pcocc = (args: string[], opts: { input?: string; user?: LabInfo["user"] } = {}) =>
    userExec(info, ["pcocc", ...args], opts);
  const exec = (args: string[], opts: { input?: string } = {}) =>
    pcocc(["exec", "-j", String(jobId), ...args], opts);

  beforeAll(async () => {
    let userData: string;
    ({ info, userData, baseline } = await e2eSetup({ secondUser: true }));
    await userExec(info, ["rm", "-f", `${info.user.home}/${RELEASE}`]);
    const hold = await writeUserScript(
      info,
      "e2e-exec-hold.sh",
      `#!/bin/bash\necho "HOLD ${RUN}"\nwhile [ ! -e ~/${RELEASE} ]; do sleep 0.5; done\n`,
    );
    const sub = await pcocc(["batch", "-N2", "-c1", "-E", hold, "--user-data", userData, `${TINY}:4`]);
    expect(sub.code, sub.stderr).toBe(0);
    jobId = jobIdFrom(sub.stdout)!;
    const out = `${info.user.home}/pcocc_${jobId}.out`;
    await waitUntil(
      "the cluster to run",
      async () => existsSync(out) && readFileSync(out, "utf8").includes(`HOLD ${RUN}`),
      300_000,
    );
    // the VMs run; their agents say hello once the guests booted: ping waits up to -t for that
    const ping = await pcocc(["agent", "ping", "-j", String(jobId), "-t", "300"]);
    expect(ping.code, ping.stderr).toBe(0);
  }, 600_000);

  afterAll(async () => {
    if (!jobId) return;
    await userExec(info, ["touch", `${info.user.home}/${RELEASE}`]);
    await expectJobGone(info, jobId, 180_000);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  }, 300_000);

  it("runs hostname in every VM, each line prefixed with its VM; agent ping --json answers for all", async () => {
    const r = await exec(["-i", "all", "hostname"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean).sort()).toEqual([
      "vm0: vm0",
      "vm1: vm1",
      "vm2: vm2",
      "vm3: vm3",
    ]);
    const raw = await exec(["-i", "0-1", "--no-prefix", "hostname"]);
    expect(raw.stdout.split("\n").filter(Boolean).sort()).toEqual(["vm0", "vm1"]);
    const ping = await pcocc(["agent", "ping", "-j", String(jobId), "--json"]);
    expect(ping.code, ping.stderr).toBe(0);
    const rows = JSON.parse(ping.stdout) as Array<{ vm: string; hostname: string; version: string }>;
    expect(rows.map((p) => [p.vm, p.hostname, p.version])).toEqual(
      [0, 1, 2, 3].map((i) => [`vm${i}`, `vm${i}`, "pcocc-agent 2"]),
    );
  });

  it("streams output as it is produced", async () => {
    const p = spawnPcocc(info, [
      "exec",
      "-j",
      String(jobId),
      "-i",
      "2",
      "--",
      "sh",
      "-c",
      "echo one; sleep 5; echo two",
    ]);
    const seen: Array<{ line: string; at: number }> = [];
    p.child.stdout!.on("data", (d: string) => {
      for (const line of d.split("\n").filter(Boolean)) seen.push({ line, at: Date.now() });
    });
    expect(await p.exited, p.out.stderr).toBe(0);
    expect(seen.map((s) => s.line)).toEqual(["one", "two"]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThan(3500);
  });

  it("forwards stdin and exits with the highest status of the VMs", async () => {
    const cat = await exec(["-i", "0", "cat"], { input: "hi\n" });
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout).toBe("hi\n");
    const mixed = await exec(["-i", "1-2", "--", "sh", "-c", 'case "$(hostname)" in vm2) exit 3;; esac']);
    expect(mixed.code, mixed.stderr).toBe(3);
    const zero = await exec(["-i", "1-2", "true"]);
    expect(zero.code, zero.stderr).toBe(0);
  });

  it("Ctrl-C kills the remote command in every VM and leaves nothing running", async () => {
    // one host connection per agent at a time: while exec holds them, the command says when it runs
    const p = spawnPcocc(info, [
      "exec",
      "-j",
      String(jobId),
      "-i",
      "all",
      "--",
      "sh",
      "-c",
      "echo started; exec sleep 100",
    ]);
    type Listing = Array<{ vm: string; execs: Array<{ command: string; exited: boolean }> }>;
    const listexec = async (): Promise<Listing> => {
      const r = await pcocc(["agent", "listexec", "-j", String(jobId), "--json"]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Listing;
    };
    await waitUntil(
      "sleep 100 to run in all 4 VMs",
      async () => (p.out.stdout.match(/^vm\d: started$/gm) ?? []).length === 4,
      60_000,
    );
    p.child.kill("SIGINT");
    expect(await p.exited, p.out.stderr).toBe(130);
    const after = await listexec();
    expect(after.map((v) => v.vm)).toEqual(["vm0", "vm1", "vm2", "vm3"]);
    expect(after.flatMap((v) => v.execs).filter((e) => e.command === "sh" && !e.exited)).toEqual([]);
    const ps = await exec(["-i", "all", "--", "sh", "-c", "ps | grep -c '[s]leep 100'"]);
    expect(ps.stdout.split("\n").filter(Boolean).sort()).toEqual(["vm0: 0", "vm1: 0", "vm2: 0", "vm3: 0"]);
  });

  it("agent writefile puts the same content in every VM, and exec -s runs a local script there", async () => {
    const content = `written ${RUN}\nsecond line\n`;
    const src = await writeUserScript(info, "e2e-writefile.txt", content);
    const w = await pcocc(["agent", "writefile", "-j", String(jobId), src, "/tmp/e2e-wf"]);
    expect(w.code, w.stderr).toBe(0);
    const sums = await exec(["-i", "all", "--", "sh", "-c", "cat /tmp/e2e-wf | md5sum"]);
    const local = await userExec(info, ["sh", "-c", `md5sum < ${src}`]);
    expect(sums.stdout.split("\n").filter(Boolean).sort()).toEqual(
      [0, 1, 2, 3].map((i) => `vm${i}: ${local.stdout.trim()}`),
    );
    const script = await writeUserScript(
      info,
      "e2e-exec-script.sh",
      `#!/bin/sh\necho "script on $(hostname) $1"\n`,
    );
    const s = await exec(["-i", "3", "-s", script, "arg1"]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toBe("script on vm3 arg1\n");
  });

  it("another user can neither exec in the cluster nor reach a VM's agent socket on its node", async () => {
    const r = await pcocc(["exec", "-j", String(jobId), "-i", "0", "hostname"], { user: info.user2 });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    const step = await userExec(info, ["srun", "--jobid", String(jobId), "--overlap", "-N1", "-n1", "true"], {
      user: info.user2,
    });
    expect(step.code, "user2 started a step in user1's job").not.toBe(0);
    // the hypervisor's multiplexer socket, and QEMU's own end of the agent's port behind it
    const paths = vmStatePaths(`${jobStateDir(jobId)}/vm0`);
    for (const socket of [paths.agentSocket, paths.agentQemuSocket]) {
      const probe = await nodeExec(
        info.nodes[0]!,
        [
          process.execPath,
          "-e",
          `require("net").connect(${JSON.stringify(socket)})` +
            `.on("connect",()=>{console.log("CONNECTED");process.exit(0)})` +
            `.on("error",(e)=>{console.log(e.code);process.exit(3)})`,
        ],
        { user: info.user2 },
      );
      expect(probe.stdout.trim(), socket).toBe("EACCES");
      // the socket is there: the job's user reaches it from the same node
      const own = await nodeExec(info.nodes[0]!, ["test", "-S", socket], { user: info.user });
      expect(own.code, socket).toBe(0);
    }
  });

  it("names bad input in one line, before anything runs", async () => {
    const oneLine = (r: { code: number; stderr: string }, re: RegExp) => {
      expect(r.code).toBe(255);
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    };
    oneLine(await exec(["-i", "7", "hostname"]), /vm7.*4 VMs/);
    oneLine(await exec(["-i", "x", "hostname"]), /-i x/);
    oneLine(await exec(["-s", `${info.user.home}/no-such-script.sh`]), /cannot read script .*no-such-script/);
    oneLine(await exec(["-i", "all", "-u", "nosuchuser", "id"]), /vm\[0,1,2,3\]: .*nosuchuser/);
    oneLine(await exec(["-i", "0", "no-such-cmd"]), /vm0: .*no-such-cmd/);
    const missing = await pcocc(["agent", "writefile", "-j", String(jobId), "/nonexistent/src", "/tmp/x"]);
    oneLine(missing, /cannot read \/nonexistent\/src/);
  });

  it("pcocc run: -w picks VMs, -n places processes round-robin, -e/--cwd reach them, status is the highest", async () => {
    const run = (args: string[]) => pcocc(["run", "-j", String(jobId), ...args]);
    const lines = (out: string) => out.split("\n").filter(Boolean).sort();
    const w = await run(["-w", "vm[1-2]", "hostname"]);
    expect(w.code, w.stderr).toBe(0);
    expect(lines(w.stdout)).toEqual(["0@vm1: vm1", "1@vm2: vm2"]);
    // options stop at the command: sh gets its -c
    const n = await run(["-n", "4", "sh", "-c", 'echo "$PCOCC_PROCID/$PCOCC_NPROCS $(hostname)"']);
    expect(n.code, n.stderr).toBe(0);
    expect(lines(n.stdout)).toEqual(["0@vm0: 0/4 vm0", "1@vm1: 1/4 vm1", "2@vm2: 2/4 vm2", "3@vm3: 3/4 vm3"]);
    const wrap = await run(["-w", "vm[2-3]", "-n", "3", "hostname"]);
    expect(lines(wrap.stdout)).toEqual(["0@vm2: vm2", "1@vm3: vm3", "2@vm2: vm2"]);
    const env = await run(["-w", "vm0", "-e", "FOO=bar", "sh", "-c", "echo $FOO"]);
    expect([env.code, env.stdout], env.stderr).toEqual([0, "bar\n"]);
    const copied = await userExec(info, [
      "env",
      "FOO=from-caller",
      "pcocc",
      "run",
      "-j",
      String(jobId),
      "-w",
      "vm3",
      "-e",
      "FOO",
      "sh",
      "-c",
      "echo $FOO",
    ]);
    expect([copied.code, copied.stdout], copied.stderr).toEqual([0, "from-caller\n"]);
    const cwd = await run(["-w", "vm3", "--cwd", "/tmp", "pwd"]);
    expect([cwd.code, cwd.stdout], cwd.stderr).toEqual([0, "/tmp\n"]);
    const mixed = await run(["-w", "vm[0-1]", "sh", "-c", 'case "$(hostname)" in vm1) exit 4;; esac']);
    expect(mixed.code, mixed.stderr).toBe(4);
    for (const [args, re] of [
      [["-w", "vm7", "hostname"], /^pcocc: invalid vm name vm7: the cluster has 4 VMs$/],
      [["-n", "0", "hostname"], /^pcocc: -n 0: /],
      [["-I", "img", "hostname"], /^pcocc: 'pcocc run -I\/--image' is not available in this version$/],
    ] as const) {
      const bad = await run([...args]);
      expect([bad.code, bad.stdout], bad.stderr).toEqual([255, ""]);
      expect(bad.stderr.trim().split("\n"), bad.stderr).toHaveLength(1);
      expect(bad.stderr.trim()).toMatch(re);
    }
  });

  it("two execs at once on one VM each finish with their own output, and listexec sees both meanwhile", async () => {
    const both = ["A", "B"].map((tag) =>
      spawnPcocc(info, [
        "exec",
        "-j",
        String(jobId),
        "-i",
        "1",
        "--",
        "sh",
        "-c",
        `echo ${tag}-start; sleep 4; echo ${tag}-end`,
      ]),
    );
    await waitUntil(
      "both execs to start",
      async () => both.every((p) => p.out.stdout.includes("-start")) || undefined,
      60_000,
    );
    const list = await pcocc(["agent", "listexec", "-j", String(jobId), "-i", "1", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const execs = (
      JSON.parse(list.stdout) as Array<{ execs: Array<{ command: string; exited: boolean }> }>
    )[0]!.execs;
    expect(execs.filter((e) => e.command === "sh" && !e.exited).length).toBeGreaterThanOrEqual(2);
    expect(await Promise.all(both.map((p) => p.exited))).toEqual([0, 0]);
    expect(both.map((p) => p.out.stdout)).toEqual(["A-start\nA-end\n", "B-start\nB-end\n"]);
  });

  it("agent attach takes over a running command: its stdin, output and exit status", async () => {
    const first = spawnPcocc(info, [
      "exec",
      "-j",
      String(jobId),
      "-i",
      "2",
      "--",
      "sh",
      "-c",
      "echo waiting; read x; echo got $x; exit 5",
    ]);
    await waitUntil(
      "the command to start",
      async () => first.out.stdout.includes("waiting") || undefined,
      60_000,
    );
    const list = await pcocc(["agent", "listexec", "-j", String(jobId), "-i", "2", "--json"]);
    const target = (
      JSON.parse(list.stdout) as Array<{ execs: Array<{ id: number; command: string; exited: boolean }> }>
    )[0]!.execs.find((e) => e.command === "sh" && !e.exited)!;
    const att = await pcocc(["agent", "attach", "-j", String(jobId), "-i", "2", String(target.id)], {
      input: "hi\n",
    });
    expect([att.code, att.stdout], att.stderr).toEqual([5, "got hi\n"]);
    expect(await first.exited).toBe(255);
    expect(first.out.stderr.trim()).toBe("pcocc: vm2: another client attached to the command");
    const gone = await pcocc(["agent", "attach", "-j", String(jobId), "-i", "2", String(target.id)]);
    expect(gone.code).toBe(255);
    expect(gone.stderr.trim()).toBe(`pcocc: vm2: attach: no command with id ${target.id}`);
  });

  it("run --pty / exec --pty: a terminal in the guest with our size; Ctrl-C reaches the guest's job", async () => {
    const { spawn } = await import("node-pty");
    const u = info.user;
    const inPty = (args: string[]) => {
      const p = spawn(
        "setpriv",
        [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--init-groups", "--", "pcocc", ...args],
        { name: "xterm", cols: 120, rows: 30, cwd: u.home, env: { ...userEnv(info, u), TERM: "xterm" } },
      );
      let text = "";
      p.onData((d) => (text += d));
      const exited = new Promise<number>((r) => p.onExit(({ exitCode }) => r(exitCode)));
      return { p, text: () => text, exited };
    };
    const run = inPty([
      "run",
      "-j",
      String(jobId),
      "-w",
      "vm1",
      "--pty",
      "sh",
      "-c",
      'tty; stty size; trap "echo GOT-INT; exit 9" INT; echo READY; while :; do sleep 1; done',
    ]);
    await waitUntil("the command to be ready", async () => /READY/.test(run.text()) || undefined, 60_000);
    // the guest's terminal ends lines with \r\n; Node's raw mode keeps ONLCR on ours, which adds a \r
    expect(run.text()).toMatch(/\/dev\/pts\/\d+\r+\n30 120\r+\n/);
    run.p.write("\x03"); // Ctrl-C as the terminal sends it: a byte, in raw mode
    expect(await run.exited).toBe(9);
    expect(run.text()).toMatch(/GOT-INT/);
    const exec = inPty(["exec", "-j", String(jobId), "-i", "0", "--pty", "tty"]);
    expect(await exec.exited).toBe(0);
    expect(exec.text()).toMatch(/^\/dev\/pts\/\d+\r+\n$/);
    const many = await pcocc(["run", "-j", String(jobId), "-w", "vm[0-1]", "--pty", "tty"]);
    expect([many.code, many.stderr.trim()]).toEqual([
      255,
      "pcocc: --pty: a terminal is for one process, 2 would run (choose one VM, or -n 1)",
    ]);
  });

  it("run -c pins each process to its own guest CPUs, and refuses more than a VM's vCPUs", async () => {
    const run = (args: string[]) => pcocc(["run", "-j", String(jobId), ...args]);
    const pinned = await run([
      "-w",
      "vm0",
      "-c",
      "1",
      "--",
      "grep",
      "Cpus_allowed_list",
      "/proc/self/status",
    ]);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stdout).toMatch(/^Cpus_allowed_list:\s+0\n$/);
    for (const args of [
      ["-w", "vm0", "-c", "2", "true"],
      ["-w", "vm0", "-n", "2", "-c", "1", "true"],
    ]) {
      const bad = await run(args);
      expect([bad.code, bad.stdout], bad.stderr).toEqual([255, ""]);
      expect(bad.stderr.trim()).toMatch(/^pcocc: -c \d: vm0 has 1 vCPUs, its \d processes need 2 /);
    }
  });

  // save -s: the two tests below use vm3 (on the second node, reached through a hop) and end with its agent gone
  const WRITER =
    "echo $$ > /tmp/e2e-writer.pid; i=0; while :; do " +
    "dd if=/dev/zero of=/data/w.$((i % 4)) bs=4k count=32 2>/dev/null; echo $i > /data/count; i=$((i + 1)); done";
  const writes = async (): Promise<number> => {
    const r = await exec(["-i", "3", "cat", "/data/count"]);
    return r.code === 0 ? Number(r.stdout.trim()) : -1;
  };

  it("save -s of a VM writing in a loop gives a revision whose file system checks clean, then thaws it", async () => {
    const image = `user:e2e-safe-${process.pid}`;
    const raw = `${info.user.home}/e2e-safe-${process.pid}.raw`;
    await pcocc(["image", "delete", image]);
    await userExec(info, ["rm", "-f", raw]);
    try {
      const start = await exec([
        "-i",
        "3",
        "--",
        "sh",
        "-c",
        `setsid sh -c '${WRITER}' </dev/null >/dev/null 2>&1 &`,
      ]);
      expect(start.code, start.stderr).toBe(0);
      const first = await waitUntil(
        "the writer to write",
        async () => {
          const n = await writes();
          return n > 0 ? n : undefined;
        },
        60_000,
      );
      await waitUntil("the writer to write on", async () => (await writes()) > first, 60_000);
      const save = await pcocc(["save", "-j", String(jobId), "-s", "-d", image, "vm3"]);
      expect(save.code, save.stderr).toBe(0);
      expect(save.stderr).not.toMatch(/^pcocc: warning/m);
      expect(save.stdout).toMatch(
        new RegExp(`^vm3 disk successfully saved to ${image}@\\d+ revision \\d+$`, "m"),
      );
      // thawed: a write to a frozen file system blocks, so the loop goes on only if the guest was thawed
      const after = await writes();
      await waitUntil("the writer to go on after the save", async () => (await writes()) > after, 60_000);
      const ex = await pcocc(["image", "export", image, raw]);
      expect(ex.code, ex.stderr).toBe(0);
      const fsck = await userExec(info, ["/sbin/e2fsck", "-fn", raw]);
      expect(fsck.code, `${fsck.stdout}${fsck.stderr}`).toBe(0);
      // frozen, ext4 has its journal flushed and clean (a running one always needs recovery), and what the
      // loop wrote is in the file system itself (unfrozen, -n skips the journal and finds no /count)
      const header = await userExec(info, ["/sbin/dumpe2fs", "-h", raw]);
      expect(header.stdout, header.stderr).toMatch(/^Filesystem features:/m);
      expect(header.stdout).not.toMatch(/^Filesystem features:.*needs_recovery/m);
      const count = await userExec(info, ["/sbin/debugfs", "-R", "cat /count", raw]);
      expect(Number(count.stdout.trim()), count.stderr).toBeGreaterThanOrEqual(first);
    } finally {
      await exec(["-i", "3", "--", "sh", "-c", "kill $(cat /tmp/e2e-writer.pid)"]);
      await pcocc(["image", "delete", image]);
      await userExec(info, ["rm", "-f", raw]);
    }
  });

  it("save -s of a VM whose agent is gone warns, naming the VM, and saves without freezing", async () => {
    const image = `user:e2e-safe-noagent-${process.pid}`;
    await pcocc(["image", "delete", image]);
    try {
      // the agent dies a second after this exec is answered
      const kill = await exec([
        "-i",
        "3",
        "--",
        "sh",
        "-c",
        "setsid sh -c 'sleep 1; kill $(pidof agent)' </dev/null >/dev/null 2>&1 &",
      ]);
      expect(kill.code, kill.stderr).toBe(0);
      await waitUntil(
        "vm3's agent to be gone",
        async () => (await pcocc(["agent", "ping", "-j", String(jobId), "-i", "3", "-t", "3"])).code !== 0,
        60_000,
      );
      const t0 = Date.now();
      const save = await pcocc(["save", "-j", String(jobId), "-s", "-d", image, "vm3"]);
      expect(save.code, save.stderr).toBe(0);
      expect(save.stderr).toMatch(/^pcocc: warning: vm3: .*; saving it without freezing its file systems$/m);
      expect(save.stdout).toMatch(/^vm3 disk successfully saved to /m);
      // the agent's short timeout, not a hang: the hop and the copy take the rest
      expect(Date.now() - t0).toBeLessThan(90_000);
    } finally {
      await pcocc(["image", "delete", image]);
    }
  });
});

describe("pcocc batch -b", () => {
  it("with -E too: both run once the cluster is up; the job ends with the -b script, stopping the host script", async () => {
    const { info, baseline } = await e2eSetup();
    const vm = await writeUserScript(
      info,
      "e2e-batch-vm-E.sh",
      `#!/bin/sh\necho "IN-VM ${RUN} on $(hostname)"\n`,
    );
    const host = await writeUserScript(
      info,
      "e2e-batch-host-E.sh",
      `#!/bin/sh\necho "ON-HOST ${RUN}"\nsleep 600\necho "HOST-END ${RUN}"\n`,
    );
    const sub = await userExec(info, ["pcocc", "batch", "-N1", "-c1", "-b", vm, "-E", host, `${TINY}:1`]);
    expect(sub.code, sub.stderr).toBe(0);
    const jobId = jobIdFrom(sub.stdout)!;
    await expectJobGone(info, jobId, 300_000); // well before the host script's 600 s
    const out = readFileSync(`${info.user.home}/pcocc_${jobId}.out`, "utf8");
    expect(out).toContain(`IN-VM ${RUN} on vm0`);
    expect(out).toContain(`ON-HOST ${RUN}`);
    expect(out).not.toContain(`HOST-END ${RUN}`);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  }, 600_000);

  it("runs the script in vm0 once the cluster is up; its output lands in pcocc_<id>.out", async () => {
    const { info, baseline } = await e2eSetup();
    const script = await writeUserScript(
      info,
      "e2e-batch-vm.sh",
      `#!/bin/sh\necho "IN-VM ${RUN} on $(hostname)"\nexit 0\n`,
    );
    const sub = await userExec(info, ["pcocc", "batch", "-N1", "-c1", "-b", script, `${TINY}:1`]);
    expect(sub.code, sub.stderr).toBe(0);
    const jobId = jobIdFrom(sub.stdout)!;
    await expectJobGone(info, jobId, 300_000);
    const out = readFileSync(`${info.user.home}/pcocc_${jobId}.out`, "utf8");
    expect(out).toContain(`IN-VM ${RUN} on vm0`);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  }, 600_000);
});
