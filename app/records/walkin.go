package records

// SourceWalkIn marks an exam created in VetBridge for a patient without an
// imaging order in Provet (an emergency, a walk-in): it is on the worklist
// like any other, but no status update goes to Provet for it.
const SourceWalkIn = "walkin"
