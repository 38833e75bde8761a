import { homedir, userInfo } from "node:os";
import { PcoccError } from "../util/index.js";

export interface PathContext {
  /** Default: the current user. */
  user?: string;
  /** Default: the current user's home directory. */
  homedir?: string;
  vmRank?: number;
  /** The cluster's state directory (pcocc: `~/.pcocc/job_<id>`). */
  clusterDir?: string;
  /** Owner of the cluster (differs from `user` when acting on another user's job). */
  clusterUser?: string;
  /** Default: `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * pcocc's path templating: `%{env:VAR}`, `%{homedir}`, `%{user}`, `%{vm_rank}`, `%{clusterdir}`,
 * `%{clusteruser}`, `%%` for a literal `%`, then a leading `~` or `~/`. Unknown or unavailable variables are
 * errors rather than silently left in the path.
 */
export function expandPath(value: string, ctx: PathContext = {}): string {
  const fail = (why: string): never => {
    throw new PcoccError(`cannot expand path '${value}': ${why}`);
  };
  const expanded = value.replace(/%(%|\{([^}]*)\}|\{|)/g, (_m, what: string, name: string | undefined) => {
    if (what === "%") return "%";
    if (name === undefined) return what === "{" ? fail("unterminated %{") : "%";
    if (name.startsWith("env:")) {
      const v = (ctx.env ?? process.env)[name.slice(4)];
      return v ?? fail(`environment variable ${name.slice(4)} is not set`);
    }
    switch (name) {
      case "homedir":
        return ctx.homedir ?? homedir();
      case "user":
        return ctx.user ?? userInfo().username;
      case "vm_rank":
        return ctx.vmRank === undefined
          ? fail("%{vm_rank} is only known inside a VM's context")
          : String(ctx.vmRank);
      case "clusterdir":
        return ctx.clusterDir ?? fail("%{clusterdir} is only known inside a cluster's context");
      case "clusteruser":
        return ctx.clusterUser ?? ctx.user ?? userInfo().username;
      default:
        return fail(`unknown variable %{${name}}`);
    }
  });
  if (expanded === "~" || expanded.startsWith("~/")) return (ctx.homedir ?? homedir()) + expanded.slice(1);
  if (expanded.startsWith("~")) fail("~user paths are not supported; use an absolute path");
  return expanded;
}
