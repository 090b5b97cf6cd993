import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fold } from '../../../core/decider.ts';
import { spec } from '../../../core/spec.ts';
import { validateEvent } from '../../../schema/registry.ts';
import type { ImageCommand } from './commands.ts';
import { imageDecider, imageUsable, lineage, type ImageState } from './decider.ts';
import type { ImageEvent } from './events.ts';

const image = spec(imageDecider);
const I = 'i_deb12';
const digest = (c: string) => `sha256:${c.repeat(64)}`;
function run(given: ImageEvent[], ...commands: ImageCommand[]): ImageEvent[] {
  const events = [...given];
  let state = fold<ImageState, ImageEvent>(imageDecider, given);
  for (const c of commands) for (const e of imageDecider.decide(c, state)) { validateEvent(e.type, e.data); state = imageDecider.evolve(state, e); events.push(e); }
  return events;
}
const stateOf = (events: ImageEvent[]) => fold<ImageState, ImageEvent>(imageDecider, events);
const register: ImageCommand = { type: 'RegisterImage', data: { imageId: I, regionId: 'r_eu', name: 'Debian 12', kind: 'os', format: 'qcow2', os: { family: 'debian', version: '12' }, sizeGiB: 2, digest: digest('a') } };
const base = run([], register);
const checkpoint = (checkpointId: string, extra: Record<string, unknown> = {}): ImageCommand =>
  ({ type: 'CreateImageCheckpoint', data: { imageId: I, checkpointId, sizeGiB: 2, digest: digest('b'), ...extra } }) as ImageCommand;

test('register an OS image: its content is checkpoint base on branch main', () => {
  image.given([]).when(register).then([{
    type: 'ImageRegistered',
    data: { imageId: I, regionId: 'r_eu', name: 'Debian 12', kind: 'os', format: 'qcow2', arch: 'x86_64', os: { family: 'debian', version: '12' }, branch: 'main', checkpointId: 'base', sizeGiB: 2, digest: digest('a') },
  }]);
  image.given(base).when(register).thenNothing();
});

test('host images are PXE (with boot settings) or raw', () => {
  const host = { type: 'RegisterImage', data: { imageId: 'i_hv', regionId: 'r_eu', name: 'hypervisor', kind: 'host', format: 'pxe', sizeGiB: 1, digest: digest('c') } } as ImageCommand;
  image.given([]).when(host).thenThrows('PXE_BOOT_REQUIRED');
  image.given([]).when({ ...host, data: { ...host.data, format: 'qcow2' } } as ImageCommand).thenThrows('IMAGE_FORMAT');
  image.given([]).when({ ...host, data: { ...host.data, boot: { kernel: 'vmlinuz', initrd: 'initrd.img' } } } as ImageCommand)
    .then((e) => { validateEvent(e[0].type, e[0].data); assert.equal((e[0].data as { boot: unknown }).boot, { kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: '' }); });
});

test('checkpoints go on top of a branch head; branches diverge', () => {
  const v1 = run(base, checkpoint('v1', { description: 'security updates' }));
  assert.is(stateOf(v1).branches.main, 'v1');
  image.given(v1).when(checkpoint('v2', { parentCheckpointId: 'base' })).thenThrows('BRANCH_HEAD_MOVED', 'at v1');
  image.given(v1).when(checkpoint('v1')).thenNothing();
  image.given(v1).when(checkpoint('v1', { digest: digest('d') })).thenThrows('CHECKPOINT_EXISTS');
  image.given(v1).when(checkpoint('h1', { branch: 'hardened' })).thenThrows('BRANCH_NOT_FOUND');
  const branched = run(v1, { type: 'CreateImageBranch', data: { imageId: I, branch: 'hardened', fromCheckpointId: 'base' } }, checkpoint('h1', { branch: 'hardened' }));
  const s = stateOf(branched);
  assert.equal([s.branches.main, s.branches.hardened], ['v1', 'h1']);
  assert.equal(lineage(s, 'h1'), ['base', 'h1']);
  assert.equal(lineage(s, 'v1'), ['base', 'v1']);
  image.given(branched).when({ type: 'CreateImageBranch', data: { imageId: I, branch: 'x', fromCheckpointId: 'nope' } }).thenThrows('CHECKPOINT_NOT_FOUND');
});

test('deprecated images stay usable, retired ones do not', () => {
  const dep = run(base, { type: 'DeprecateImage', data: { imageId: I, reason: 'EOL soon' } });
  assert.is(imageUsable(stateOf(dep), I).checkpointId, 'base');
  const ret = run(dep, { type: 'RetireImage', data: { imageId: I } });
  assert.throws(() => imageUsable(stateOf(ret), I), /retired/);
  image.given(ret).when(checkpoint('v9')).thenThrows('IMAGE_RETIRED');
  image.given(ret).when({ type: 'RetireImage', data: { imageId: I } }).thenNothing();
  assert.throws(() => imageUsable(stateOf(base), I, 'v7'), /no checkpoint v7/);
});

test.run();
