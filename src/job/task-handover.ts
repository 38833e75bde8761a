import { z } from "zod";
import { PcoccError } from "../util/index.js";

/**
 * The hand-over from the front (`pcocc alloc|batch`) to the launcher (its command line), from the launcher
 * to every per-VM task (one environment variable), and back from the launcher to the `pcocc alloc` that
 * waits for it (a report file). Each side encodes and decodes only through this module, so both agree.
 */

/** What the front asks the launcher for: the user's launch options. */
export interface LaunchRequest {
  definition: string;
  /** `-E`: command line run instead of the interactive shell (through /bin/sh -c). */
  script?: string;
  /** `-b`: script run in vm0 through the guest agent (`pcocc exec -s`) instead of the shell. */
  batchScript?: string;
  /** `-w` (batch without script): no front process, the cluster runs until its VMs stop or the job ends. */
  wait?: boolean;
  /** `--wait[=ROLE]`: the shell/script starts once the readiness checks of all VMs (or ROLE's) passed. */
  gate?: string;
  userData?: string;
  /** `--mount` specs, as the user wrote them (the task parses them). */
  mounts: string[];
  /** `--image [TPL=]IMAGE` specs. */
  images: string[];
  /** `-r DIR`: the VMs resume from the checkpoint in DIR instead of booting. */
  restartDir?: string;
  /** `pcocc alloc` only: where the launcher writes its LauncherReport. */
  reportFile?: string;
}

/** The verb the front runs inside the allocation. */
export const LAUNCHER_VERB = ["internal", "launcher"] as const;

const text = z.string().min(1, "empty");

const LaunchRequestSchema = z
  .object({
    definition: text,
    script: text.optional(),
    batchScript: text.optional(),
    wait: z.literal(true).optional(),
    gate: text.optional(),
    userData: text.optional(),
    mounts: z.array(text),
    images: z.array(text),
    restartDir: text.optional(),
    reportFile: text.optional(),
  })
  .strict();

/** Field → argument name; every argument is `--name=value` (or `--wait`), so no value is read as a flag. */
const ARGS = {
  wait: "wait",
  gate: "ready-gate",
  script: "alloc-script",
  batchScript: "batch-script",
  userData: "user-data",
  mounts: "mount",
  images: "image",
  restartDir: "restart-ckpt",
  reportFile: "report-file",
  definition: "definition",
} as const satisfies Record<keyof LaunchRequest, string>;

type Field = keyof typeof ARGS;
const FIELD_OF = new Map<string, Field>(Object.entries(ARGS).map(([field, arg]) => [arg, field as Field]));
const REPEATED = new Set<Field>(["mounts", "images"]);

/** `pcocc internal launcher` arguments (after the verb) that carry `r`. */
export function encodeLaunchRequest(r: LaunchRequest): string[] {
  const args: string[] = [];
  for (const [field, arg] of Object.entries(ARGS) as Array<[Field, string]>) {
    const v = r[field];
    if (v === undefined || v === false) continue;
    if (v === true) args.push(`--${arg}`);
    else for (const one of Array.isArray(v) ? v : [v]) args.push(`--${arg}=${one}`);
  }
  return args;
}

/** The request in the launcher's arguments; anything but what encodeLaunchRequest writes is refused. */
export function decodeLaunchRequest(argv: readonly string[]): LaunchRequest {
  const where = "pcocc internal launcher (started by pcocc alloc|batch)";
  const fields: Record<string, unknown> = { mounts: [], images: [] };
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=([\s\S]*))?$/.exec(a);
    const field = m ? FIELD_OF.get(m[1]!) : undefined;
    if (!m || !field) throw new PcoccError(`${where}: unknown argument '${a}'`);
    const value = field === "wait" ? m[2] === undefined || m[2] : m[2];
    if (value === undefined) throw new PcoccError(`${where}: argument '${a}' needs a value (--${m[1]}=...)`);
    if (REPEATED.has(field)) (fields[field] as unknown[]).push(value);
    else if (field in fields) throw new PcoccError(`${where}: argument --${m[1]} given twice`);
    else fields[field] = value;
  }
  return parseWith(LaunchRequestSchema, fields, (path) => {
    const field = path[0] as Field | undefined;
    return field === undefined ? where : `${where}: argument --${ARGS[field]}`;
  });
}

/** What every per-VM task (`pcocc internal run`) learns from the launcher, beyond SLURM's own variables. */
export interface TaskHandover {
  definition: string;
  userData?: string;
  /** `--mount` specs. */
  mounts: string[];
  /** `{template: image URI}` from `--image`. */
  imageOverrides: Record<string, string>;
  restartDir?: string;
}

/** The one environment variable that carries the TaskHandover through srun. */
export const TASK_HANDOVER_ENV = "PCOCC_VM_TASK";

const TaskHandoverSchema = z
  .object({
    definition: text,
    userData: text.optional(),
    mounts: z.array(text),
    imageOverrides: z.record(text, text),
    restartDir: text.optional(),
  })
  .strict();

/** Variables to add to the hypervisor step's environment. */
export function encodeTaskEnv(h: TaskHandover): Record<string, string> {
  return { [TASK_HANDOVER_ENV]: JSON.stringify(h) };
}

export function decodeTaskEnv(env: NodeJS.ProcessEnv): TaskHandover {
  const raw = env[TASK_HANDOVER_ENV];
  if (raw === undefined || raw === "") {
    throw new PcoccError(
      `pcocc internal run is started by the launcher inside a job: ${TASK_HANDOVER_ENV} is not set`,
    );
  }
  const json = parseJson(raw, TASK_HANDOVER_ENV);
  return parseWith(TaskHandoverSchema, json, (path) => [TASK_HANDOVER_ENV, ...path].join("."));
}

/** `env` without the hand-over: the user's shell or script has no use for it. */
export function withoutTaskHandover(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const rest = { ...env };
  delete rest[TASK_HANDOVER_ENV];
  return rest;
}

/** A process as /proc names it: the pid and its start time, so a reused pid is not mistaken for it. */
export interface ProcessRef {
  pid: number;
  start: number;
}

/**
 * What the launcher tells `pcocc alloc` through `reportFile`: its own process, the front process and the
 * hypervisor step once started, and its exit status at the end. salloc hides a launcher killed by a signal
 * (it exits 0), so a report without a status is how the front learns that, and what is left to end.
 */
export interface LauncherReport {
  launcher: ProcessRef;
  jobId?: number;
  front?: ProcessRef;
  step?: ProcessRef;
  status?: number;
}

const ProcessRefSchema = z.object({ pid: z.number().int().positive(), start: z.number().int().min(0) });
const LauncherReportSchema = z
  .object({
    launcher: ProcessRefSchema,
    jobId: z.number().int().min(0).optional(),
    front: ProcessRefSchema.optional(),
    step: ProcessRefSchema.optional(),
    status: z.number().int().min(0).max(255).optional(),
  })
  .strict();

export function encodeLauncherReport(r: LauncherReport): string {
  return `${JSON.stringify(r)}\n`;
}

export function decodeLauncherReport(content: string, file: string): LauncherReport {
  return parseWith(LauncherReportSchema, parseJson(content, file), (path) => [file, ...path].join(": "));
}

function parseJson(raw: string, where: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    throw new PcoccError(`${where}: invalid JSON (${(err as Error).message}): ${quote(raw)}`);
  }
}

/** Validates `value`; the error names where the first offending part is and what is wrong with it. */
function parseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  where: (path: Array<string | number>) => string,
): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const bad = issue.path.reduce<unknown>(
    (v, k) => (v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[k] : undefined),
    value,
  );
  const got = bad === undefined ? "" : `, got ${quote(JSON.stringify(bad))}`;
  throw new PcoccError(`${where(issue.path)}: ${issue.message}${got}`);
}

/** A value as an error message shows it: quoted, and cut short when long. */
function quote(s: string): string {
  return `'${s.length > 200 ? `${s.slice(0, 200)}...` : s}'`;
}
