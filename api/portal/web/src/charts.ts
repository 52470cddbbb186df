// Charts with Apache ECharts, only the parts the pages use (tree-shaken: the bundle carries no chart it does not
// draw), rendered to SVG so they are crisp and readable by the accessibility tree. Every chart gets a text
// alternative: `label` is its accessible name, and ECharts' aria module describes the series to screen readers.
// A page builds the ECharts option itself; `chart` only mounts it, sizes it with its box and disposes the old one.

import * as echarts from "echarts/core";
import { BarChart, GraphChart, LineChart, ScatterChart, TreeChart } from "echarts/charts";
import {
  AriaComponent,
  DatasetComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
} from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

echarts.use([
  BarChart,
  GraphChart,
  LineChart,
  ScatterChart,
  TreeChart,
  AriaComponent,
  DatasetComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
  SVGRenderer,
]);

export type Option = echarts.EChartsCoreOption;

const live = new WeakMap<HTMLElement, echarts.ECharts>();
const resizing = new ResizeObserver((entries) => {
  for (const entry of entries) live.get(entry.target as HTMLElement)?.resize();
});

/** Draw `option` in `el` (a block with a height), named `label` for assistive technology. */
export function chart(el: HTMLElement, option: Option, label: string): echarts.ECharts {
  live.get(el)?.dispose();
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", label);
  const drawn = echarts.init(el, null, { renderer: "svg" });
  drawn.setOption({
    aria: { enabled: true, label: { description: label } },
    animation: false,
    textStyle: { fontFamily: "system-ui, sans-serif", color: "#1b1f24" },
    ...option,
  });
  live.set(el, drawn);
  resizing.observe(el);
  return drawn;
}

/** Colours with at least 3:1 contrast against white, told apart by more than hue (the series also differ in marks). */
export const PALETTE = ["#0b5cad", "#b35900", "#0f6b36", "#8a1c7c", "#5b6570", "#a4161a"];
