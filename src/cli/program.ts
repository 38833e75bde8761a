import { Command } from "commander";
import { createRequire } from "node:module";
import { setVerbosity } from "../util/log.js";
import { register as registerConfig } from "./commands/config.js";
import { register as registerTemplate } from "./commands/template.js";
import { register as registerImage } from "./commands/image.js";
import { register as registerAlloc } from "./commands/alloc.js";
import { register as registerBatch } from "./commands/batch.js";
import { register as registerPs } from "./commands/ps.js";
import { register as registerSsh } from "./commands/ssh.js";
import { register as registerScp } from "./commands/scp.js";
import { register as registerNc } from "./commands/nc.js";
import { register as registerInternalLauncher } from "./commands/internal-launcher.js";
import { register as registerInternalRun } from "./commands/internal-run.js";
import { register as registerConsole } from "./commands/console.js";
import { register as registerReset } from "./commands/reset.js";
import { register as registerMonitorCmd } from "./commands/monitor-cmd.js";
import { register as registerDump } from "./commands/dump.js";
import { register as registerSave } from "./commands/save.js";

/**
 * Every verb lives in `commands/<verb>.ts` and exports `register(program)`. Verb modules only declare
 * options; the code behind them is imported inside the action so start-up stays cheap.
 * Add one line per verb module to `registrations`.
 */
const registrations: Array<(program: Command) => void> = [
  registerTemplate,
  registerConfig,
  registerImage,
  registerAlloc,
  registerBatch,
  registerPs,
  registerSsh,
  registerScp,
  registerNc,
  registerInternalLauncher,
  registerInternalRun,
  registerConsole,
  registerReset,
  registerMonitorCmd,
  registerDump,
  registerSave,
];

export function buildProgram(): Command {
  const version = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;
  const program = new Command("pcocc")
    .description("Private cloud on a compute cluster: virtual clusters of VMs inside SLURM jobs")
    .version(version)
    .option("-v, --verbose", "more output; repeat for debug (-vv)", (_v, prev: number) => prev + 1, 0)
    .exitOverride()
    .hook("preAction", (cmd) => setVerbosity(cmd.optsWithGlobals<{ verbose: number }>().verbose));
  for (const register of registrations) register(program);
  return program;
}
