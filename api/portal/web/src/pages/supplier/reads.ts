// The reads the supplier's financing sections share, made once per refresh: each is its own promise, so a section
// waits only for what it shows and one failing read fails only the sections that need it (never the page).

import { all, api } from "../../api";
import type { FinancingRequest, Piece } from "../../types";
import { ledgerNow } from "../../ui";
import type { EventPage, FinancedEvent, Member, RootDetail } from "./shapes";

export interface Reads {
  /** the pieces this party holds now (GET /v1/receivables/pieces) */
  pieces: Promise<Piece[]>;
  /** each held piece's receivable with the pieces of its tree this party sees, by root id */
  roots: Promise<Map<string, RootDetail>>;
  /** this party's financing requests, newest first */
  requests: Promise<FinancingRequest[]>;
  /** the pieces this party sold to a bank (PieceFinanced, from the event feed): a sold piece is no longer held,
   * and GET /v1/receivables/pieces/{id} no longer shows it to the seller */
  sold: Promise<FinancedEvent[]>;
  /** the ledger's now, UTC seconds (a devnet's chain runs ahead of the wall clock) */
  now: Promise<number>;
}

export function readAll(me: string): Reads {
  const pieces = all<Piece>("/v1/receivables/pieces", { limit: 200 });
  const roots = pieces.then(async (held) => {
    const ids = [...new Set(held.map((p) => p.rootId))];
    const found = await Promise.all(ids.map((id) => api.get<RootDetail>(`/v1/receivables/${id}`)));
    return new Map(found.map((r) => [r.rootId, r]));
  });
  const requests = all<FinancingRequest>("/v1/financing-requests", { limit: 200 }).then((rs) =>
    rs.filter((r) => r.holder.toLowerCase() === me.toLowerCase()).sort((a, b) => b.createdAt - a.createdAt),
  );
  const sold = soldBy(me);
  const now = ledgerNow();
  // Nobody waits on a promise a section does not ask for: keep an unasked failure from reaching the console.
  for (const p of [pieces, roots, requests, sold, now]) p.catch(() => undefined);
  return { pieces, roots, requests, sold, now };
}

/** Every piece.financed event of the party's feed in which it sold (the feed pages by `hasMore`, not by null). */
async function soldBy(me: string): Promise<FinancedEvent[]> {
  const found: FinancedEvent[] = [];
  let after: string | undefined;
  for (let page = 0; page < 50; page++) {
    const answer: EventPage<FinancedEvent> = await api.get("/v1/events", {
      types: "piece.financed",
      limit: 200,
      after,
    });
    found.push(...answer.items.filter((e) => e.data.seller.toLowerCase() === me.toLowerCase()));
    if (!answer.hasMore || answer.items.length === 0) break;
    after = answer.nextAfter;
  }
  return found.sort((a, b) => b.occurredAt - a.occurredAt);
}

/** Words for the members' roles, by lower-case address, to name the debtor, banks and oracles (GET /v1/parties). */
export async function memberNames(): Promise<Record<string, string>> {
  const names: Record<string, string> = {};
  let after: string | undefined;
  for (let page = 0; page < 50; page++) {
    const members = await api.get<Member[]>("/v1/parties", { limit: 200, after });
    for (const m of members) names[m.address.toLowerCase()] = roleWord(m.roles);
    if (members.length < 200) break;
    after = members[members.length - 1]!.address;
  }
  return names;
}

function roleWord(roles: string[]): string {
  if (roles.includes("core")) return "core enterprise";
  if (roles.includes("bank")) return "bank";
  if (roles.includes("oracle")) return "oracle";
  if (roles.includes("supplier")) return "supplier";
  return roles.join(", ");
}
