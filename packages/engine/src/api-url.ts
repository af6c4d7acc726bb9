// API URLs of objects, as LXD writes them in `used_by`, `resources` and
// lifecycle `source`: the project is a query parameter unless it is `default`.

function withProject(path: string, project: string): string {
  return project === 'default' ? path : `${path}?project=${encodeURIComponent(project)}`;
}

export const apiUrl = {
  instance: (project: string, name: string) =>
    withProject(`/1.0/instances/${encodeURIComponent(name)}`, project),
  snapshot: (project: string, instance: string, name: string) =>
    withProject(
      `/1.0/instances/${encodeURIComponent(instance)}/snapshots/${encodeURIComponent(name)}`,
      project,
    ),
  backup: (project: string, instance: string, name: string) =>
    withProject(
      `/1.0/instances/${encodeURIComponent(instance)}/backups/${encodeURIComponent(name)}`,
      project,
    ),
  /** A file of an instance's recorded exec output, under `logs` (LXD 5.0) or `logs/exec-output`. */
  instanceLog: (project: string, instance: string, file: string, dir = 'logs') =>
    withProject(`/1.0/instances/${encodeURIComponent(instance)}/${dir}/${file}`, project),
  profile: (project: string, name: string) =>
    withProject(`/1.0/profiles/${encodeURIComponent(name)}`, project),
  project: (name: string) => `/1.0/projects/${encodeURIComponent(name)}`,
  image: (project: string, fingerprint: string) =>
    withProject(`/1.0/images/${fingerprint}`, project),
  imageAlias: (project: string, name: string) =>
    withProject(`/1.0/images/aliases/${encodeURIComponent(name)}`, project),
  /** Networks and storage pools are the host's, in no project. */
  network: (name: string) => `/1.0/networks/${encodeURIComponent(name)}`,
  storagePool: (name: string) => `/1.0/storage-pools/${encodeURIComponent(name)}`,
  operation: (id: string) => `/1.0/operations/${id}`,
};
