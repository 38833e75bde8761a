import { PcoccError } from "../util/index.js";

/** `[REPO:]NAME[@REV]` as users write it; absent parts are left for the resolver to choose. */
export interface ImageUri {
  repo?: string;
  name: string;
  revision?: number;
}

const NAME = /^[a-zA-Z0-9_.-]+$/;
const REVISION = /^(0|[1-9][0-9]*)$/;

function validateImageName(name: string, what = "image name"): string {
  if (name === "") throw new PcoccError(`Empty ${what}`);
  if (!NAME.test(name) || name === "." || name === "..") {
    throw new PcoccError(`Invalid ${what} '${name}': only letters, digits, '_', '.' and '-' are allowed`);
  }
  return name;
}

export function parseImageUri(text: string): ImageUri {
  const trimmed = text.trim();
  if (trimmed === "") throw new PcoccError("Empty image URI (expected [REPO:]NAME[@REV])");
  const colon = trimmed.indexOf(":");
  const repo = colon >= 0 ? trimmed.slice(0, colon) : undefined;
  const rest = colon >= 0 ? trimmed.slice(colon + 1) : trimmed;
  const at = rest.indexOf("@");
  const name = at >= 0 ? rest.slice(0, at) : rest;
  const rev = at >= 0 ? rest.slice(at + 1) : undefined;
  const uri: ImageUri = { name: validateImageName(name) };
  if (repo !== undefined) uri.repo = validateImageName(repo, `repository name in '${text}'`);
  if (rev !== undefined) {
    if (!REVISION.test(rev) || !Number.isSafeInteger(Number(rev))) {
      throw new PcoccError(`Bad revision '${rev}' in '${text}': expected a non-negative integer`);
    }
    uri.revision = Number(rev);
  }
  return uri;
}

export function formatImageUri(uri: ImageUri): string {
  return `${uri.repo === undefined ? "" : `${uri.repo}:`}${uri.name}${uri.revision === undefined ? "" : `@${uri.revision}`}`;
}
