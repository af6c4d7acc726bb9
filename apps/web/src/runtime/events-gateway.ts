// socket.io namespace `/events`: the engine's event bus, fanned out to
// browsers. The handshake is authenticated by the session cookie; each
// socket receives only the events of the projects its user may see.
//
// Each socket is tracked in LiveConnections: signing out, a password change,
// disabling the user or changing their memberships closes its connection.
// The browser's client reconnects on its own and is judged afresh (refused
// when its session ended, with the new roles otherwise).
import type { Server } from 'socket.io';
import type { Event } from '@berth/engine/schemas';
import type { BerthServices } from '../server/berth.ts';
import { connectionPrincipal } from '../server/live-connections.ts';
import { authorize, can, type PolicyUser } from '../server/policy.ts';
import { handshakeRefusal } from './handshake-refusal.ts';
import { sessionFromCookie, type CookieSession } from './session-cookie.ts';

/** How long a socket trusts the roles it loaded before asking again. */
const rolesTtlMs = 30_000;

export function attachEventsGateway(io: Server, berth: BerthServices): void {
  const nsp = io.of('/events');

  nsp.use((socket, next) => {
    sessionFromCookie(berth, socket.handshake.headers.cookie)
      .then((session) => {
        // Who it is, and no password change due; its roles are loaded once connected.
        authorize(session ? { ...session.user, roles: new Map() } : null, 'user');
        socket.data.session = session;
        next();
      })
      .catch((error: unknown) => next(new Error(handshakeRefusal(error))));
  });

  nsp.on('connection', (socket) => {
    const session = socket.data.session as CookieSession;
    let policyUser: PolicyUser = { isAdmin: session.user.isAdmin, roles: new Map() };
    let loadedAt = 0;
    const refresh = async () => {
      if (Date.now() - loadedAt < rolesTtlMs) return;
      loadedAt = Date.now();
      policyUser = {
        isAdmin: session.user.isAdmin,
        roles: await berth.members.rolesOf(session.user.id),
      };
    };
    void refresh();

    let revoked = false;
    const subscription = berth.engine.events.subscribe(
      { types: ['lifecycle', 'operation'] },
      (event: Event) => {
        void refresh()
          .then(() => {
            if (!revoked && can(policyUser, 'read', event.project)) socket.emit('event', event);
          })
          .catch(() => {});
      },
    );
    const untrack = berth.connections.track(
      connectionPrincipal({ id: session.user.id, sessionId: session.sessionId, via: 'session' }),
      () => {
        revoked = true;
        subscription.close();
        // The transport, not just the namespace: a client told "server
        // disconnect" would stay away, one whose transport dropped reconnects.
        // After the revocation's other closes (the same browser's terminals,
        // multiplexed on this transport, first hear why they end).
        setImmediate(() => socket.conn.close());
      },
    );

    // A session that expires ends its socket too.
    const untilExpiry = Math.max(0, session.expires * 1000 - Date.now());
    const expiry = setTimeout(() => socket.disconnect(true), Math.min(untilExpiry, 2 ** 31 - 1));

    socket.on('disconnect', () => {
      untrack();
      clearTimeout(expiry);
      subscription.close();
    });
  });
}
