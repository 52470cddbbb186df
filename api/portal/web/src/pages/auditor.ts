import { html, render } from "lit-html";
import type { Party } from "../types";

export async function auditorPage(main: HTMLElement, me: Party): Promise<void> {
  render(html`<h1>Auditor</h1><p>${me.address}</p>`, main);
}
