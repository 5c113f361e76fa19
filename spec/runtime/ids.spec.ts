import { describe, expect, it } from 'vitest';
import { actorId, isActorId, localOf, mintRootNodeId, nodeOf, routeFrom } from '../../runtime/ids.ts';

describe('ids', () => {
  it('names an actor by its node and a local number', () => {
    const id = actorId('Root1.2.3', 0);
    expect(id).toBe('Root1.2.3/0');
    expect(nodeOf(id)).toBe('Root1.2.3');
    expect(localOf(id)).toBe(0);
    expect(isActorId(id)).toBe(true);
    expect(isActorId('nope')).toBe(false);
  });

  it('mints distinct root IDs without separators', () => {
    const a = mintRootNodeId();
    expect(a).toMatch(/^[0-9A-Za-z]{10}$/);
    expect(mintRootNodeId()).not.toBe(a);
  });

  it('routes by prefix: local, down to the right child, or up', () => {
    expect(routeFrom('R.1', 'R.1')).toEqual({ kind: 'local' });
    expect(routeFrom('R', 'R.2.5')).toEqual({ kind: 'child', child: 'R.2', n: 2 });
    expect(routeFrom('R.2', 'R.2.5.1')).toEqual({ kind: 'child', child: 'R.2.5', n: 5 });
    expect(routeFrom('R.2', 'R.21')).toEqual({ kind: 'up' });
    expect(routeFrom('R.2', 'R.3')).toEqual({ kind: 'up' });
    expect(routeFrom('R.2', 'R')).toEqual({ kind: 'up' });
    expect(routeFrom('R', 'Other.1')).toEqual({ kind: 'up' });
  });
});
