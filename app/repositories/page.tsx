import { Suspense } from "react";
import { RepositoriesTable } from "@/components/repositories-table";
import { Loading, PageHeader } from "@/components/ui";

export const metadata = { title: "Repositories · Berth" };

export default function RepositoriesPage() {
  return (
    <>
      <PageHeader title="Repositories" subtitle="Search, filter by namespace and sort — all server-side" />
      <Suspense fallback={<Loading />}>
        <RepositoriesTable />
      </Suspense>
    </>
  );
}
