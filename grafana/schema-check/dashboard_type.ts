// The type each dashboard JSON must have: Grafana's published dashboard schema (@grafana/schema,
// generated from Grafana's CUE schema) plus the export-only `__requires`. Grafana declares some
// fields as TypeScript string enums (ThresholdsMode, MappingType, FieldColorModeId), which no JSON
// literal can be; JsonOf<> turns each enum into the union of its values, everything else is kept.
import type { Dashboard } from '@grafana/schema';

type JsonOf<T> = T extends string
  ? string extends T ? string : `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends Array<infer U>
      ? Array<JsonOf<U>>
      : T extends object
        ? { [K in keyof T]: JsonOf<T[K]> }
        : T;

export type ExportedDashboard = JsonOf<Dashboard> & {
  __requires: Array<{ type: 'grafana' | 'datasource' | 'panel'; id: string; name: string; version: string }>;
};
