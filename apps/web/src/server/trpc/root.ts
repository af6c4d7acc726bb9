import { router } from './init.ts';
import { accountRouter } from './routers/account.ts';
import { imagesRouter } from './routers/images.ts';
import { instancesRouter } from './routers/instances.ts';
import { operationsRouter } from './routers/operations.ts';
import { profilesRouter } from './routers/profiles.ts';
import { projectsRouter } from './routers/projects.ts';

export const appRouter = router({
  account: accountRouter,
  projects: projectsRouter,
  profiles: profilesRouter,
  instances: instancesRouter,
  operations: operationsRouter,
  images: imagesRouter,
});

export type AppRouter = typeof appRouter;
