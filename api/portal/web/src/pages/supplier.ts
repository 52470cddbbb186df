// The supplier's page: what a tier-2 or tier-3 supplier's bookkeeper needs in one place. The receivable pieces it
// holds and their path to the core enterprise that owes them; asking banks to finance a piece, their offers
// compared by what they cost, and accepting one from its own wallet; its orders' milestones; its credit decision
// and limit history; its documents. Every part loads on its own (`section`): one failing read never blanks the page.

import { html, render } from "lit-html";
import { all, api } from "../api";
import type { FinancingRequest, Offer, Party, Piece, Prepared } from "../types";
import { $, act, addr, config, dateTime, ledgerNow, money, section, status } from "../ui";
import { send } from "../wallet";
import { documentsSection } from "./documents";
import { draftsPart, readDrafts } from "./drafts";
import { decisionSection, historySection } from "./supplier/credit";
import { offersSection, requestsSection } from "./supplier/financing";
import { ordersSection } from "./supplier/orders";
import { heldSection, type Sale } from "./supplier/pieces";
import { memberNames, readAll } from "./supplier/reads";
import type { RootDetail } from "./supplier/shapes";

/** How often, and how long after the last ask, the page looks for the banks' answers. */
const WATCH_EVERY_MS = 4_000;
const WATCH_FOR_MS = 120_000;

/** What changed in the requests since they were last read, in words. */
function news(before: FinancingRequest[], after: FinancingRequest[]): string {
  const old = new Map(before.map((r) => [r.id, r]));
  const said: string[] = [];
  for (const r of after) {
    const was = old.get(r.id);
    if (r.offers > (was?.offers ?? 0)) said.push(`a bank made an offer on piece #${r.pieceId}`);
    else if (r.declines.length > (was?.declines.length ?? 0)) said.push(`a bank declined piece #${r.pieceId}`);
    else if (was && was.state !== r.state) said.push(`the request for piece #${r.pieceId} is ${r.state} now`);
  }
  const text = said.length > 0 ? said.join("; ") : "your requests changed";
  return `${text[0]!.toUpperCase()}${text.slice(1)}: the sections below are up to date.`;
}

export async function supplierPage(main: HTMLElement, me: Party): Promise<void> {
  render(
    html`<h1>Supplier</h1>
      <p class="muted">Signed in as ${addr(me.address)}. Amounts in ${config.token.symbol}.</p>
      <div id="supplier-status"></div>
      <div id="sup-held"></div>
      <div id="sup-requests"></div>
      <div id="sup-offers"></div>
      <div id="sup-drafts"></div>
      <div id="sup-orders"></div>
      <div class="grid">
        <div id="sup-decision"></div>
        <div id="sup-history"></div>
      </div>
      <div id="sup-documents"></div>`,
    main,
  );
  const line = $("supplier-status");
  // Role words for addresses ("core enterprise", "bank"); the sections wait for them, not the page.
  const named = memberNames().catch((): Record<string, string> => ({}));
  let watchUntil = 0;
  let watching = false;
  let lastSeen = "";
  let lastRequests: FinancingRequest[] = [];
  const justSold: Sale[] = []; // acceptances made here, shown as sold until the event feed has them

  const fingerprint = (rs: FinancingRequest[]) =>
    rs.map((r) => `${r.id}:${r.state}:${r.offers}:${r.declines.length}`).join(",");

  /** Reload what financing changes: the pieces, the requests and the offers (one set of reads for the three). */
  const reload = async (): Promise<void> => {
    const reads = readAll(me.address);
    reads.requests.then((rs) => {
      lastSeen = fingerprint(rs);
      lastRequests = rs;
      if (rs.some((r) => r.state === "open")) watch(WATCH_FOR_MS);
    }, () => undefined);
    await Promise.all([
      section($("sup-held"), "Receivables you hold", async () => heldSection(reads, me.address, await named, { ask }, justSold), "held"),
      section($("sup-requests"), "Financing requests", async () => requestsSection(reads, await named, { accept, withdraw }), "requests"),
      section($("sup-offers"), "Offers from banks", async () => offersSection(reads, await named, { accept, withdraw }), "offers"),
    ]);
  };

  // One reload at a time: a reload asked for while one runs runs once after it, so an older read never
  // overwrites a newer one.
  let running: Promise<void> | null = null;
  let again = false;
  const refresh = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await reload();
      } while (again);
      running = null;
    })();
    return running;
  };

  /** Look for the banks' answers every few seconds for a while, and refresh when a request changed. */
  const watch = (forMs: number): void => {
    watchUntil = Math.max(watchUntil, Date.now() + forMs);
    if (watching) return;
    watching = true;
    const tick = async (): Promise<void> => {
      if (!main.isConnected || Date.now() > watchUntil) {
        watching = false;
        return;
      }
      try {
        const rs = (await all<FinancingRequest>("/v1/financing-requests", { limit: 200 })).filter(
          (r) => r.holder.toLowerCase() === me.address.toLowerCase(),
        );
        const seen = fingerprint(rs);
        if (seen !== lastSeen) {
          status(line, news(lastRequests, rs), "ok");
          lastSeen = seen;
          lastRequests = rs;
          await refresh();
        }
      } catch {
        // a failed look is tried again at the next tick; the sections show the API's words on a refresh
      }
      setTimeout(() => void tick(), WATCH_EVERY_MS);
    };
    setTimeout(() => void tick(), WATCH_EVERY_MS);
  };

  function ask(piece: Piece, button: HTMLButtonElement): void {
    void act(
      button,
      line,
      async (say) => {
        say(`asking every active bank to finance piece #${piece.pieceId}…`);
        const request = await api.post<FinancingRequest>(`/v1/receivables/pieces/${piece.pieceId}/financing-requests`, {});
        watch(WATCH_FOR_MS);
        return (
          `Asked every active bank to finance piece #${piece.pieceId} (${money(piece.amount)}): request ` +
          `${request.state}, open until ${dateTime(request.expiresAt)}. Offers appear below as banks answer.`
        );
      },
      () => void refresh(),
    );
  }

  function accept(offer: Offer, piece: Piece, root: RootDetail | undefined, button: HTMLButtonElement): void {
    void act(
      button,
      line,
      async (say) => {
        say(`preparing the finance transaction for piece #${offer.pieceId}…`);
        const prepared = await api.post<Prepared>(`/v1/receivables/offers/${offer.id}/accept`, {});
        const done = await send(prepared, say);
        justSold.push({
          pieceId: piece.pieceId,
          rootId: piece.rootId,
          bank: offer.bank,
          price: offer.price,
          amount: piece.amount,
          at: await ledgerNow(),
          maturity: root ? Number(root.maturity) : null,
        });
        return (
          `Piece #${offer.pieceId} financed: the bank paid ${money(offer.price)} and now holds it ` +
          `(block ${done.blockNumber ?? "?"}, transaction ${done.txHash.slice(0, 10)}…).`
        );
      },
      () => void refresh(),
    );
  }

  function withdraw(request: FinancingRequest, button: HTMLButtonElement): void {
    void act(
      button,
      line,
      async (say) => {
        say(`withdrawing the request for piece #${request.pieceId}…`);
        await api.post<FinancingRequest>(`/v1/financing-requests/${request.id}/withdraw`, {});
        return `Withdrew the request for piece #${request.pieceId}: banks no longer see the piece through it.`;
      },
      () => void refresh(),
    );
  }

  const drafts = (): Promise<void> =>
    section($("sup-drafts"), "Orders to sign", async () => draftsPart(await readDrafts(), me, "supplier", line, () => void drafts()), "drafts");

  await Promise.all([
    refresh(),
    drafts(),
    section($("sup-orders"), "Orders and milestones", async () => ordersSection(me.address, await named), "orders"),
    section($("sup-decision"), "Credit decision", () => decisionSection(me.address), "decision"),
    section($("sup-history"), "Score and limit history", async () => historySection(me.address, await named), "history"),
    section($("sup-documents"), "Documents", async () => documentsSection(await named), "documents"),
  ]);
}
