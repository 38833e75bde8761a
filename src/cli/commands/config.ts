import type { Command } from "commander";

export function register(program: Command): void {
  const config = program.command("config").description("inspect the pcocc configuration");
  config
    .command("check")
    .description("validate every configuration file and print each problem (exit 0 only if all is valid)")
    .option("--system", "check the system files only, as root does for node setup")
    .option(
      "--install",
      "also check the installation: every etcd server over TLS, root's password file (as root)",
    )
    .option(
      "--node",
      "also check this compute node: QEMU, qemu-img, dnsmasq, Open vSwitch, nftables (as root)",
    )
    .action(async (opts: { system?: boolean; install?: boolean; node?: boolean }) => {
      const { configCheck } = await import("../config-check.js");
      process.exitCode = await configCheck({ user: !opts.system, install: opts.install, node: opts.node });
    });
}
