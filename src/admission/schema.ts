// The AdmissionReview envelope (admission.k8s.io v1 and v1beta1, which share one shape), as a schema
// first: ajv validates with it and the TypeScript types come from it (STYLE.md §3). Only the fields
// meshlock reads are constrained; everything else the apiserver adds is allowed through, so a newer
// apiserver never breaks the webhook.
import { Type, type Static } from '@sinclair/typebox';

export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number];

const Uid = Type.String({ minLength: 1, maxLength: 256 });

/** What must hold before any answer can be written: a response echoes apiVersion and uid. */
export const EnvelopeSchema = Type.Object({
  apiVersion: Type.Union(ADMISSION_API_VERSIONS.map((v) => Type.Literal(v))),
  kind: Type.Literal('AdmissionReview'),
  request: Type.Object({ uid: Uid }),
});
export type Envelope = Static<typeof EnvelopeSchema>;

const GroupVersionKind = Type.Object({
  group: Type.String(),
  version: Type.String(),
  kind: Type.String({ minLength: 1 }),
});

export const OperationSchema = Type.Union([
  Type.Literal('CREATE'),
  Type.Literal('UPDATE'),
  Type.Literal('DELETE'),
  Type.Literal('CONNECT'),
]);

/** The request proper. A request that fails this schema has a uid, so it gets an answer: fail closed. */
export const AdmissionRequestSchema = Type.Object({
  uid: Uid,
  kind: GroupVersionKind,
  resource: Type.Optional(Type.Object({ group: Type.String(), version: Type.String(), resource: Type.String() })),
  subResource: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  // Empty or absent for cluster-scoped objects such as Namespace.
  namespace: Type.Optional(Type.String()),
  operation: OperationSchema,
  userInfo: Type.Optional(Type.Object({ username: Type.Optional(Type.String()) })),
  object: Type.Optional(Type.Unknown()),
  oldObject: Type.Optional(Type.Unknown()),
  dryRun: Type.Optional(Type.Boolean()),
  options: Type.Optional(Type.Unknown()),
});
export type AdmissionRequest = Static<typeof AdmissionRequestSchema>;

export const AdmissionReviewSchema = Type.Object({
  apiVersion: Type.Union(ADMISSION_API_VERSIONS.map((v) => Type.Literal(v))),
  kind: Type.Literal('AdmissionReview'),
  request: AdmissionRequestSchema,
});
export type AdmissionReview = Static<typeof AdmissionReviewSchema>;

/** The response meshlock writes (admission.k8s.io AdmissionResponse). */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
  patch?: string;
  patchType?: 'JSONPatch';
}

export interface AdmissionReviewResponse {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}
