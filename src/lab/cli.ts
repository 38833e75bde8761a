import { Command, InvalidArgumentError } from "commander";
import { exitStatus } from "../util/exit-status.js";
import { PcoccError } from "../util/errors.js";
import type { LabInfo } from "./types.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new PcoccError("pcocc-lab must run as root (it manages daemons and namespaces)");
}

function describe(info: LabInfo): string {
  const lines = [`lab up in ${info.dir}`];
  for (const n of info.nodes) lines.push(`  ${n.name}  ${n.ip}  (slurmd pid ${n.pid})`);
  lines.push(`  controller ${info.controllerIp}   etcd ${info.etcd.endpoints.join(",")}`);
  lines.push(`  users ${info.user.name} (uid ${info.user.uid}), ${info.user2.name} (uid ${info.user2.uid})`);
  lines.push(
    `  pcocc from the ${info.pcocc.source}: ${info.pcocc.bin}, SPANK plugin ${info.pcocc.spank ?? "not built"}`,
  );
  lines.push('  shell setup: eval "$(pcocc-lab env)"   run as the lab user: pcocc-lab exec -- CMD');
  return lines.join("\n");
}

async function requireLab(): Promise<LabInfo> {
  const { labStatus } = await import("./index.js");
  const info = await labStatus();
  if (!info) throw new PcoccError("the lab is not up (run: pcocc-lab up)");
  return info;
}

export function buildLabProgram(): Command {
  const program = new Command("pcocc-lab")
    .description("A real virtual HPC cluster on this machine (SLURM, etcd, munge, Open vSwitch) for pcocc")
    .option("-v, --verbose", "print stack traces of errors")
    .enablePositionalOptions()
    .exitOverride();
  registerLifecycle(program);
  registerUse(program);
  return program;
}

/** up, down, status */
function registerLifecycle(program: Command): void {
  program
    .command("up")
    .description(
      "start the lab (idempotent; installs missing Debian packages first). Options left out accept a " +
        "running lab of any shape; a fresh lab gets 2 nodes, 4 CPUs and 4096 MiB each, no PrologFlags",
    )
    .option("--nodes <n>", "number of compute nodes", positiveInt)
    .option("--cpus <c>", "CPUs per node", positiveInt)
    .option("--mem <mb>", "memory per node in MiB", positiveInt)
    .option("--prolog-flags <flags>", "slurm.conf PrologFlags (e.g. Alloc; empty for none)")
    .option("--no-images", "skip building/importing the lab guest images")
    .option(
      "--from-package <deb>",
      "install this pcocc .deb (npm run package) and run it instead of the checkout; without it, the " +
        "checkout runs and a package an earlier up installed is purged",
    )
    .action(
      async (o: {
        nodes?: number;
        cpus?: number;
        mem?: number;
        prologFlags?: string;
        images: boolean;
        fromPackage?: string;
      }) => {
        requireRoot();
        const { labUp } = await import("./index.js");
        const info = await labUp({
          nodes: o.nodes,
          cpus: o.cpus,
          memMiB: o.mem,
          prologFlags: o.prologFlags,
          images: o.images,
          fromPackage: o.fromPackage,
          onProgress: (m) => process.stderr.write(`pcocc-lab: ${m}\n`),
        });
        process.stdout.write(describe(info) + "\n");
      },
    );

  program
    .command("down")
    .description("stop every lab process and remove its namespaces, bridge, OVS and runtime state")
    .action(async () => {
      requireRoot();
      const { labDown } = await import("./index.js");
      await labDown();
    });

  program
    .command("status")
    .description("show whether the lab is up, its nodes and daemons")
    .option("--json", "machine-readable output")
    .action(async (o: { json?: boolean }) => {
      const { defaultLabDir, labPaths } = await import("./layout.js");
      const { readLabState, daemonHealth } = await import("./state.js");
      const { labStatus } = await import("./index.js");
      const state = readLabState(labPaths(defaultLabDir()));
      const info = await labStatus();
      const daemons = state ? daemonHealth(state) : {};
      if (o.json) {
        process.stdout.write(JSON.stringify({ up: info !== null, info, daemons }, null, 2) + "\n");
      } else if (info) {
        process.stdout.write(describe(info) + "\n");
      } else {
        const dead = Object.entries(daemons).filter(([, alive]) => !alive);
        process.stdout.write(
          state
            ? `lab is not (fully) up; not running: ${dead.map(([d]) => d).join(", ") || "none"}\n`
            : "lab is down\n",
        );
      }
      if (!info) process.exitCode = 1;
    });
}

/** env, exec */
function registerUse(program: Command): void {
  program
    .command("env")
    .description("print the export lines a login shell needs to use the lab")
    .action(async () => {
      const info = await requireLab();
      const { labEnv } = await import("./exec.js");
      const lines = Object.entries(labEnv(info)).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
      process.stdout.write(lines.join("\n") + "\n");
    });

  program
    .command("exec")
    .description("run a command as the lab user on the login node, with the lab environment and home")
    .argument("<command...>", "command and arguments (after --)")
    .passThroughOptions()
    .action(async (argv: string[]) => {
      requireRoot();
      const info = await requireLab();
      const { userSpawn } = await import("./exec.js");
      const child = userSpawn(info, argv, { stdio: "inherit" });
      process.exitCode = await new Promise<number>((resolve) => {
        child.on("error", () => resolve(127));
        child.on("close", (code, signal) => resolve(exitStatus(code, signal)));
      });
    });
}

/** Entry point of the `pcocc-lab` binary. */
export async function main(argv: string[]): Promise<void> {
  const program = buildLabProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e?.code === "string" && e.code.startsWith("commander.")) {
      process.exitCode = e.exitCode ?? 2;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`pcocc-lab: ${message}\n`);
    if (program.opts<{ verbose?: boolean }>().verbose && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack}\n`);
    }
    process.exitCode = err instanceof PcoccError ? err.exitCode : 255;
  }
}
