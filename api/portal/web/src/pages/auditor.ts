// The auditor's page: replay the ledger from the chain and read the report (every mismatch with its location),
// see the published credit limits and the offers recomputed, read the decoded history of an order or a piece, and
// look at the scores by supply tier, the model's calibration and a receivable's tree. The auditor only reads: the
// page signs nothing. What the server recomputes, and what it cannot, it says itself (api/v1/audit_reads.py).

import { html, render } from "lit-html";
import { api } from "../api";
import type { Party, Receivable } from "../types";
import { $, addr, section } from "../ui";
import { historyForm } from "./auditor/history";
import { calibration, drawTree, scoresByTier, treeForm, type Drawn } from "./auditor/pictures";
import { limitsView, offersView } from "./auditor/recomputed";
import { Replays } from "./auditor/replay";
import type { Run } from "./auditor/shapes";

interface OrderLine {
  orderId: string;
}

/** A section whose content comes with a chart, drawn once the content is on the page. */
async function charted(host: HTMLElement, title: string, load: () => Promise<Drawn>): Promise<void> {
  let draw = () => {};
  await section(host, title, async () => {
    const [view, drawn] = await load();
    draw = drawn;
    return view;
  });
  draw();
}

export async function auditorPage(main: HTMLElement, me: Party): Promise<void> {
  render(
    html`<h1>Auditor</h1>
      <p class="muted">
        Signed in as ${addr(me.address)}. An auditor reads everything and signs nothing: replays re-read the chain
        itself, not this API's database.
      </p>
      <div id="aud-replay"></div>
      <div id="aud-runs"></div>
      <div id="aud-limits"></div>
      <div id="aud-offers"></div>
      <div id="aud-history"></div>
      <div class="grid">
        <div id="aud-scores"></div>
        <div id="aud-calibration"></div>
      </div>
      <div id="aud-tree"></div>`,
    main,
  );

  // The limits and offers sections show the run #replay-result shows.
  const shown = (run: Run | null) => {
    if (run === null) return; // a run in progress: they keep the last finished one until it ends
    void section($("aud-limits"), "Published limits recomputed", async () => limitsView(run), "limits-recomputed");
    void section($("aud-offers"), "Offers recomputed", async () => offersView(run), "offers-recomputed");
  };
  const runs = () => section($("aud-runs"), "Previous runs", () => replays.table(), "previous-runs");
  const replays = new Replays(shown, () => void runs());

  await section($("aud-replay"), "Replay from genesis", () => replays.form(), "replay");
  replays.ready();
  void section($("aud-limits"), "Published limits recomputed", async () => limitsView(null), "limits-recomputed");
  void section($("aud-offers"), "Offers recomputed", async () => offersView(null), "offers-recomputed");
  await Promise.all([
    runs(),
    section(
      $("aud-history"),
      "Decoded history of an order or a piece",
      async () => {
        const first = await api.get<{ items: OrderLine[] }>("/v1/orders", { limit: 1 });
        return historyForm(first.items[0]?.orderId ?? "1");
      },
      "history",
    ),
    charted($("aud-scores"), "Scores by supply tier", scoresByTier),
    charted($("aud-calibration"), "Calibration: predicted against observed", calibration),
    (async () => {
      let first: string | null = null;
      await section(
        $("aud-tree"),
        "Receivable tree",
        async () => {
          const page = await api.get<{ items: Receivable[] }>("/v1/receivables", { limit: 1 });
          first = page.items[0]?.rootId ?? null;
          return treeForm(first);
        },
        "receivable-tree",
      );
      if (first !== null) await drawTree(first);
    })(),
  ]);
}
