import { html, render } from "lit-html";
import type { Party } from "../types";

export async function corePage(main: HTMLElement, me: Party): Promise<void> {
  render(html`<h1>Core</h1><p>${me.address}</p>`, main);
}
