import { Dashboard } from "@/components/dashboard";
import { PageHeader } from "@/components/ui";

export default function HomePage() {
  return (
    <>
      <PageHeader title="Overview" subtitle="Health, storage and what happened lately" />
      <Dashboard />
    </>
  );
}
