import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ensureGuestImages, type GuestImage, type GuestImages } from "../../../src/lab/guest/index.js";
import { nodeExec, nodeSpawn } from "../../../src/lab/index.js";
import type { LabInfo } from "../../../src/lab/index.js";
import { useLab } from "../../support/lab.js";

/** Where QEMU and ssh run: this machine's root namespaces, or "on" a lab node. */
interface Place {
  name: string;
  spawn(argv: string[]): ChildProcess;
  exec(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

function collect(child: ChildProcess): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

const host: Place = {
  name: "host",
  spawn: (argv) => spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] }),
  exec: (argv) => collect(spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] })),
};

function labNode(info: LabInfo): Place {
  const node = info.nodes[0]!;
  return {
    name: `lab node ${node.name}`,
    spawn: (argv) => nodeSpawn(node, argv, { stdio: ["ignore", "pipe", "pipe"] }),
    exec: async (argv) => {
      const r = await nodeExec(node, argv);
      return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

async function run(argv: string[]): Promise<string> {
  const r = await host.exec(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

let work: string;
let images: GuestImages;
let pubKey: string;
let keyFile: string;

beforeAll(async () => {
  images = await ensureGuestImages({ log: (m) => console.log(m) });
  work = await mkdtemp("/tmp/pcocc-guest-test-");
  keyFile = join(work, "id_ed25519");
  await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "guest-test", "-f", keyFile]);
  pubKey = (await readFile(`${keyFile}.pub`, "utf8")).trim();
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const USER = "labtest";
// Generous: ~30-55 s on an idle machine, but the 2 cores are shared with the whole test suite.
const CLOUD_READY_TIMEOUT = 600_000;

/** Written the way pcocc writes inline user-data: the yaml library, long lines folded at 80 columns. */
function userData(marker: string): string {
  const doc = {
    users: ["default", { name: USER, sudo: "ALL=(ALL) NOPASSWD:ALL", ssh_authorized_keys: [pubKey] }],
    write_files: [{ path: "/etc/pcocc-test", permissions: "0644", content: "written by write_files\n" }],
    runcmd: [
      `echo "pcocc-test runcmd ${marker} $(cat /etc/pcocc-test)" > /dev/ttyS0`,
      ["sh", "-c", `echo pcocc-test argv ${marker} > /dev/ttyS0`],
    ],
  };
  return `#cloud-config\n${stringify(doc)}`;
}

interface Boot {
  console: () => string;
  waitFor: (re: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>;
  stop: () => Promise<void>;
}

/** Boots an image (on a throw-away overlay) with a NoCloud seed; the serial console is QEMU's stdout. */
async function boot(place: Place, image: GuestImage | GuestImages["tiny"], hostname: string, port: number) {
  const dir = await mkdtemp(join(work, `${hostname}-`));
  const seed = join(dir, "seed");
  await run(["mkdir", seed]);
  await writeFile(join(seed, "meta-data"), `instance-id: iid-${hostname}\nlocal-hostname: ${hostname}\n`);
  await writeFile(join(seed, "user-data"), userData(hostname));
  const iso = join(dir, "seed.iso");
  await run(["genisoimage", "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", seed]);
  const drives: string[] = [];
  if (image.disk) {
    const overlay = join(dir, "disk.qcow2");
    await run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", image.disk, "-F", "qcow2", overlay]);
    drives.push("-drive", `file=${overlay},if=virtio,format=qcow2`);
  }
  drives.push("-drive", `file=${iso},if=virtio,format=raw,readonly=on`);
  const argv = [
    "qemu-system-x86_64",
    ...["-accel", "tcg,tb-size=64", "-machine", "q35", "-m", "512", "-smp", "2"],
    ...["-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot"],
    ...["-kernel", image.kernel, "-initrd", image.initrd, "-append", image.kernelArgs],
    ...drives,
    ...["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`, "-device", "virtio-net-pci,netdev=n0"],
    // eth1 stands for the private network: DHCP there too, without delaying boot.
    ...["-netdev", "user,id=n1,net=10.77.0.0/24", "-device", "virtio-net-pci,netdev=n1"],
    ...["-device", "virtio-rng-pci"],
  ];
  const started = Date.now();
  const child = place.spawn(argv);
  let out = "";
  let exited = false;
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
    wake();
  });
  child.stderr?.on("data", (b: Buffer) => {
    out += b.toString();
    wake();
  });
  child.on("close", () => {
    exited = true;
    wake();
  });
  const result: Boot = {
    console: () => out,
    waitFor: async (re, timeoutMs) => {
      const deadline = started + timeoutMs;
      for (;;) {
        const m = out.match(re);
        if (m) {
          console.log(
            `[${place.name} ${hostname}] ${re.source} after ${((Date.now() - started) / 1000).toFixed(1)} s`,
          );
          return m;
        }
        if (exited) throw new Error(`QEMU exited before ${re}; console:\n${out.slice(-3000)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${re} within ${timeoutMs} ms; console:\n${out.slice(-3000)}`);
        await new Promise<void>((ok) => {
          const t = setTimeout(ok, left);
          waiters.push(() => {
            clearTimeout(t);
            ok();
          });
        });
      }
    },
    stop: async () => {
      if (!exited) {
        child.kill("SIGTERM");
        await new Promise((ok) => (exited ? ok(undefined) : child.on("close", ok)));
      }
    },
  };
  return { ...result, started };
}

async function sshRun(place: Place, port: number, command: string) {
  const argv = [
    "ssh",
    ...["-i", keyFile, "-p", String(port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=20"],
    ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"],
    `${USER}@127.0.0.1`,
    command,
  ];
  // The ready line is printed once sshd listens; a second try only covers a slow first key exchange.
  let last = { code: -1, stdout: "", stderr: "" };
  for (let attempt = 0; attempt < 3; attempt++) {
    last = await place.exec(argv);
    if (last.code !== 255) return last;
  }
  return last;
}

async function bootAndCheck(place: Place, kind: "cloud" | "tiny", timeoutMs: number) {
  const hostname = `${kind}-${place === host ? "h" : "n"}${process.pid % 1000}`;
  const port = place === host ? await freePort() : 10022;
  const vm = await boot(place, images[kind], hostname, port);
  try {
    const ready = await vm.waitFor(/pcocc-guest: ready hostname=(\S+)\r?\n/, timeoutMs);
    expect(ready[1]).toBe(hostname);
    await vm.waitFor(new RegExp(`pcocc-test runcmd ${hostname} written by write_files`), 10_000);
    await vm.waitFor(new RegExp(`pcocc-test argv ${hostname}`), 10_000);
    const checks = [
      "hostname",
      "cat /etc/pcocc-test",
      "id -un",
      "getent passwd " + USER,
      "ping -c 1 -W 5 127.0.0.1 >/dev/null && echo ping-ok",
      "ip -4 -o addr show dev eth0",
      "ip -4 -o addr show dev eth1",
      kind === "cloud" ? "sudo -n id -u" : "grep -q ' /data ext4 ' /proc/mounts && echo data-mounted",
    ];
    const r = await sshRun(place, port, checks.join("; "));
    console.log(
      `[${place.name} ${hostname}] ssh answered after ${((Date.now() - vm.started) / 1000).toFixed(1)} s`,
    );
    expect(r.stderr).toBe("");
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(hostname);
    expect(lines[1]).toBe("written by write_files");
    expect(lines[2]).toBe(USER);
    expect(lines[3]).toMatch(new RegExp(`^${USER}:`));
    expect(lines[4]).toBe("ping-ok");
    expect(lines[5]).toMatch(/eth0\s+inet 10\.0\.2\.15\//);
    expect(lines[6]).toMatch(/eth1\s+inet 10\.77\.0\.15\//);
    expect(lines[7]).toBe(kind === "cloud" ? "0" : "data-mounted");
  } finally {
    await vm.stop();
  }
}

describe("lab guest images", () => {
  it("returns absolute paths with a serial console in the kernel arguments, from the cache", async () => {
    const again = await ensureGuestImages();
    expect(again).toEqual(images);
    for (const img of [images.cloud, images.tiny]) {
      for (const p of [img.kernel, img.initrd, img.disk]) expect(p).toMatch(/^\//);
      expect(img.kernelArgs).toMatch(/(^| )console=ttyS0( |$)/);
    }
  });

  it("cloud image: real cloud-init applies the seed; the user logs in with the key", async () => {
    await bootAndCheck(host, "cloud", CLOUD_READY_TIMEOUT);
  }, 900_000);

  it("tiny image: the NoCloud subset applies the seed; the user logs in with the key", async () => {
    await bootAndCheck(host, "tiny", 120_000);
  });
});

describe("lab guest images on a lab node", () => {
  let node: Place;
  beforeAll(async () => {
    node = labNode(await useLab({ images: false }));
  });
  it("cloud image boots under QEMU in a node namespace and takes the ssh key", async () => {
    await bootAndCheck(node, "cloud", CLOUD_READY_TIMEOUT);
  }, 900_000);
  it("tiny image boots under QEMU in a node namespace and takes the ssh key", async () => {
    await bootAndCheck(node, "tiny", 120_000);
  });
});
