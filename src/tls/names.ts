// Every name the apiserver may use to reach a Service: it dials `<svc>.<ns>.svc` for a webhook's
// clientConfig.service, and the shorter and longer forms cover in-cluster clients and tools.
export function serviceNames(service: string, namespace: string, clusterDomain = 'cluster.local'): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.${clusterDomain}`,
  ];
}
