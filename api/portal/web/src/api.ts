// The ledger API over fetch, same origin. Every uint256 crosses JSON as a decimal string; nothing here turns one
// into a float. An error answer becomes an ApiError carrying the API's own words (`detail`, `field`), which the
// pages show as they are: the API's messages already say what to do.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Detail = string | { loc?: unknown[]; msg?: string }[] | undefined;

function wordsOf(detail: Detail, fallback: string): string {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length > 0) {
    return detail.map((d) => `${(d.loc ?? []).join(".")}: ${d.msg ?? ""}`).join("; ");
  }
  return fallback;
}

let token: string | null = sessionStorage.getItem("scf.token");

export function setToken(value: string | null): void {
  token = value;
  if (value === null) sessionStorage.removeItem("scf.token");
  else sessionStorage.setItem("scf.token", value);
}

export function hasToken(): boolean {
  return token !== null;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== null && v !== undefined) params.set(k, String(v));
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}

async function call<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method === "POST") headers["Idempotency-Key"] = crypto.randomUUID();
  let answer: Response;
  try {
    answer = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "unreachable", `the API did not answer (${String(err)}): is scf serve running?`);
  }
  if (answer.status === 204) return undefined as T;
  const text = await answer.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!answer.ok) {
    const p = (parsed ?? {}) as { error?: string; detail?: Detail; field?: string };
    if (answer.status === 401) setToken(null);
    throw new ApiError(
      answer.status,
      p.error ?? "http_error",
      wordsOf(p.detail, `${answer.status} ${answer.statusText}`),
      p.field ?? null,
    );
  }
  return parsed as T;
}

/** GET raw bytes (a sealed document): the errors as `call` reports them. */
async function bytes(path: string): Promise<Uint8Array> {
  const headers: Record<string, string> = { Accept: "application/octet-stream, application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let answer: Response;
  try {
    answer = await fetch(path, { headers });
  } catch (err) {
    throw new ApiError(0, "unreachable", `the API did not answer (${String(err)}): is scf serve running?`);
  }
  if (!answer.ok) {
    const p = (await answer.json().catch(() => ({}))) as { error?: string; detail?: Detail; field?: string };
    if (answer.status === 401) setToken(null);
    throw new ApiError(answer.status, p.error ?? "http_error", wordsOf(p.detail, `${answer.status}`), p.field ?? null);
  }
  return new Uint8Array(await answer.arrayBuffer());
}

export const api = {
  get: <T>(path: string, query?: Query) => call<T>("GET", path, undefined, query),
  bytes,
  post: <T>(path: string, body: unknown = {}, query?: Query) => call<T>("POST", path, body, query),
  delete: <T>(path: string) => call<T>("DELETE", path),
};

/** Every page of a `{items, nextAfter}` listing, up to `max` items. */
export async function all<T>(path: string, query: Query = {}, max = 2000): Promise<T[]> {
  const items: T[] = [];
  let after: string | null = null;
  do {
    const page: { items: T[]; nextAfter: string | number | null } = await api.get(path, {
      ...query,
      after: after ?? undefined,
    });
    items.push(...page.items);
    after = page.nextAfter === null ? null : String(page.nextAfter);
  } while (after !== null && items.length < max);
  return items;
}
