/** Text output of the `pcocc image` verbs, laid out like pcocc's tables. */
import { formatTable } from "../util/index.js";
import type { GcResult, ImageInfo } from "./manage.js";

function formatDate(timestamp: number): string {
  const d = new Date(timestamp * 1000);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function formatImageList(repos: Array<{ repo: string; images: ImageInfo[] }>): string {
  return repos
    .map(
      ({ repo, images }) =>
        `${capitalize(repo)} images:\n` +
        formatTable(
          ["NAME", "TYPE", "REVISION", "REPO", "OWNER", "DATE"],
          images.map((i) => [i.name, i.kind, String(i.revision), i.repo, i.owner, formatDate(i.timestamp)]),
        ),
    )
    .join("\n");
}

export function formatImageShow(info: ImageInfo & { uri: string }): string {
  const fields: Array<[string, string]> = [
    ["Repo", info.repo],
    ["Name", info.name],
    ["Type", info.kind],
    ["URI", info.uri],
    ["Layers", String(info.layers)],
    ["Owner", info.owner],
    ["Date", formatDate(info.timestamp)],
    ["Virtual size", info.virtualSize === null ? "N/A" : formatSize(info.virtualSize)],
  ];
  const block = fields.map(([k, v]) => `${`${k}:`.padEnd(14)}${v}`).join("\n");
  const table = formatTable(
    ["REVISION", "SIZE", "CREATION DATE"],
    info.revisions.map((r) => [String(r.revision), formatSize(r.size), formatDate(r.timestamp)]),
  );
  return `${block}\n\n${table}`;
}

export function formatRepoList(
  repos: Array<{ name: string; path: string; writable: boolean | null }>,
): string {
  return formatTable(
    ["NAME", "PATH", "WRITABLE"],
    repos.map((r) => [r.name, r.path, r.writable === null ? "N/A" : r.writable ? "yes" : "no"]),
  );
}

export function formatGc(r: GcResult): string {
  return `Repository ${r.repo}: deleted ${r.blobsDeleted} unreferenced layer(s) and ${r.stagingDeleted} temporary file(s), freed ${formatSize(r.freedBytes)}\n`;
}
