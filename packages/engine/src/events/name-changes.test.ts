import { describe, expect, it } from 'vitest';
import { apiUrl } from '../api-url.ts';
import { EventBus } from './event-bus.ts';
import { nameChangeOf, type NameChange } from './name-changes.ts';

function heard(emit: (bus: EventBus) => void): NameChange[] {
  const bus = new EventBus();
  const changes: NameChange[] = [];
  bus.onNameChange((c) => changes.push(c));
  emit(bus);
  return changes;
}

describe('name changes from lifecycle events', () => {
  it('tells deleted and renamed instances, in the default project and others', () => {
    expect(
      heard((bus) => {
        bus.lifecycle('default', 'instance-deleted', apiUrl.instance('default', 'c1'));
        bus.lifecycle('p-1', 'instance-deleted', apiUrl.instance('p-1', 'web a'));
        bus.lifecycle('p-1', 'instance-renamed', apiUrl.instance('p-1', 'new'), {
          old_name: 'old',
        });
      }),
    ).toEqual([
      { kind: 'instance', change: 'deleted', project: 'default', name: 'c1' },
      { kind: 'instance', change: 'deleted', project: 'p-1', name: 'web a' },
      { kind: 'instance', change: 'renamed', project: 'p-1', name: 'new', oldName: 'old' },
    ]);
  });

  it('tells deleted and renamed projects', () => {
    expect(
      heard((bus) => {
        bus.lifecycle('gone', 'project-deleted', apiUrl.project('gone'));
        bus.lifecycle('after', 'project-renamed', apiUrl.project('after'), { old_name: 'before' });
      }),
    ).toEqual([
      { kind: 'project', change: 'deleted', name: 'gone' },
      { kind: 'project', change: 'renamed', name: 'after', oldName: 'before' },
    ]);
  });

  it('ignores every other event, snapshots of an instance included', () => {
    expect(
      heard((bus) => {
        bus.lifecycle('default', 'instance-started', apiUrl.instance('default', 'c1'));
        bus.lifecycle(
          'default',
          'instance-snapshot-deleted',
          apiUrl.snapshot('default', 'c1', 's0'),
        );
        bus.lifecycle('default', 'instance-deleted', apiUrl.snapshot('default', 'c1', 's0'));
        bus.lifecycle('default', 'instance-renamed', apiUrl.instance('default', 'x'));
        bus.logging('default', 'info', 'instance-deleted');
        bus.emit('operation', 'default', { id: 'x' });
      }),
    ).toEqual([]);
    expect(
      nameChangeOf({
        type: 'lifecycle',
        timestamp: '',
        location: 'none',
        project: 'default',
        metadata: { action: 'instance-deleted', source: '/1.0/instances/%E0%A4%A' },
      }),
    ).toBeNull();
  });
});
