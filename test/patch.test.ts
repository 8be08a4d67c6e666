// applyPatch copies only what a patch changes: the document given is never modified, the objects on
// each op's path are new, everything else is shared, and values added are copies of the op's.
import t from 'tap';
import { applyPatch, PatchError } from '../src/policy/index.js';

t.test('the input is untouched; only the path to each change is copied', async (t) => {
  const doc = {
    metadata: { name: 'p', labels: { app: 'web' }, managedFields: [{ manager: 'kubectl', fieldsV1: { big: true } }] },
    spec: { containers: [{ name: 'app' }] },
  };
  const before = JSON.stringify(doc);
  const value = { 'istio-injection': 'enabled' };
  const out = applyPatch(doc, [
    { op: 'add', path: '/metadata/labels/sidecar.istio.io~1inject', value: 'true' },
    { op: 'add', path: '/metadata/annotations', value },
  ]);
  t.equal(JSON.stringify(doc), before, 'the document given is unchanged');
  t.same(out.metadata.labels, { app: 'web', 'sidecar.istio.io/inject': 'true' });
  t.not(out.metadata, doc.metadata, 'metadata is on the path: copied');
  t.not(out.metadata.labels, doc.metadata.labels, 'labels are on the path: copied');
  t.equal(out.spec, doc.spec, 'spec is not on any path: shared');
  t.equal(out.metadata.managedFields, doc.metadata.managedFields, 'managedFields shared');
  t.not((out.metadata as Record<string, unknown>)['annotations'], value, 'an added value is a copy');
  value['istio-injection'] = 'changed';
  t.same((out.metadata as Record<string, unknown>)['annotations'], { 'istio-injection': 'enabled' });
});

t.test('two ops on one path copy it once and both apply', async (t) => {
  const doc = { metadata: { labels: { a: '1' } } };
  const out = applyPatch(doc, [
    { op: 'add', path: '/metadata/labels/b', value: '2' },
    { op: 'remove', path: '/metadata/labels/a' },
  ]);
  t.same(out, { metadata: { labels: { b: '2' } } });
  t.same(doc, { metadata: { labels: { a: '1' } } });
});

t.test('arrays on the path are copied too', async (t) => {
  const doc = { spec: { initContainers: [{ name: 'a' }] } };
  const out = applyPatch(doc, [{ op: 'add', path: '/spec/initContainers/-', value: { name: 'b' } }]);
  t.same(out.spec.initContainers, [{ name: 'a' }, { name: 'b' }]);
  t.same(doc.spec.initContainers, [{ name: 'a' }], 'the input array keeps its one element');
  t.equal(out.spec.initContainers[0], doc.spec.initContainers[0], 'elements not on the path are shared');
});

t.test('replace and remove need the key to be the object own, not inherited', async (t) => {
  t.throws(() => applyPatch({}, [{ op: 'replace', path: '/toString', value: 'x' }]), PatchError);
  t.throws(() => applyPatch({}, [{ op: 'remove', path: '/constructor' }]), PatchError);
  t.throws(() => applyPatch({ a: 1 }, [{ op: 'add', path: '/missing/b', value: 1 }]), PatchError);
});
