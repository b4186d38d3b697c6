import type { Metadata } from "next";
import { parseRepositoryPath, routeTitle } from "@/components/repository-path";
import { RepositoryRouteView } from "@/components/repository-route";

export async function generateMetadata({ params }: { params: Promise<{ path: string[] }> }): Promise<Metadata> {
  return { title: `${routeTitle(parseRepositoryPath((await params).path))} · Berth` };
}

export default function RepositoryPage() {
  return <RepositoryRouteView />;
}
