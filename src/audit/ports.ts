// A workload's port-level modes as the reports print them: `8443=PERMISSIVE (edge: <reason>)` for a
// port an edge permits (POLICY.md "Edges"), `9090=DISABLE` for any other.
import type { WorkloadRow } from './model.js';

export function portSummary(w: Pick<WorkloadRow, 'ports' | 'edges'>): string {
  return Object.entries(w.ports)
    .map(([port, mode]) => `${port}=${mode}${w.edges?.[port] !== undefined ? ` (edge: ${w.edges[port]})` : ''}`)
    .join(', ');
}
