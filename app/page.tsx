import { HealthCard } from "@/components/health-card";

export default function HomePage() {
  return (
    <div className="space-y-6">
      <h1 className="text-2xl font-semibold">Overview</h1>
      <HealthCard />
    </div>
  );
}
