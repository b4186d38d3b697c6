import { GcView } from "@/components/gc-view";
import { PageHeader } from "@/components/ui";

export const metadata = { title: "Garbage collection · Berth" };

export default function GcPage() {
  return (
    <>
      <PageHeader title="Garbage collection" subtitle="Free the space of deleted images" />
      <GcView />
    </>
  );
}
