import { router } from './init.ts';
import { accountRouter } from './routers/account.ts';
import { auditRouter } from './routers/audit.ts';
import { backupsRouter } from './routers/backups.ts';
import { filesRouter } from './routers/files.ts';
import { imagesRouter } from './routers/images.ts';
import { instancesRouter } from './routers/instances.ts';
import { membersRouter } from './routers/members.ts';
import { networksRouter } from './routers/networks.ts';
import { operationsRouter } from './routers/operations.ts';
import { profilesRouter } from './routers/profiles.ts';
import { projectsRouter } from './routers/projects.ts';
import { snapshotsRouter } from './routers/snapshots.ts';
import { storageRouter } from './routers/storage.ts';
import { storageVolumesRouter } from './routers/storage-volumes.ts';
import { tokensRouter } from './routers/tokens.ts';
import { usersRouter } from './routers/users.ts';

export const appRouter = router({
  account: accountRouter,
  projects: projectsRouter,
  profiles: profilesRouter,
  instances: instancesRouter,
  operations: operationsRouter,
  images: imagesRouter,
  networks: networksRouter,
  storage: storageRouter,
  storageVolumes: storageVolumesRouter,
  snapshots: snapshotsRouter,
  backups: backupsRouter,
  files: filesRouter,
  users: usersRouter,
  members: membersRouter,
  tokens: tokensRouter,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
