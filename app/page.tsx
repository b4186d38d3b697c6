import { Dashboard } from "@/components/dashboard";
import { PageHeader } from "@/components/ui";

export const metadata = { title: "Overview · Berth" };

export default function HomePage() {
  return (
    <>
      <PageHeader title="Overview" subtitle="Health, storage and what happened lately" />
      <Dashboard />
    </>
  );
}
