#include "registry/service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <random>

namespace riffle::registry {
namespace {

namespace fs = std::filesystem;

// A registry over a fresh kv store in a temporary directory; Reopen()
// closes everything and loads it again from disk.
class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("registry_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    Open();
  }
  void TearDown() override {
    Close();
    fs::remove_all(dir_);
  }
  void Open() {
    kv::Options o;
    o.path = (dir_ / "kv").string();
    o.sync = false;
    auto store = kv::Store::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    pool_ = std::make_unique<ThreadPool>(1);
    auto s = Service::Open({store_.get(), pool_.get()});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    service_ = std::move(s).value();
  }
  void Close() {
    service_.reset();  // waits for queued writes
    pool_.reset();
    store_.reset();
  }
  void Reopen() {
    Close();
    Open();
  }

  template <typename T, typename Fn>
  Result<T> Await(Fn start) {
    std::promise<Result<T>> p;
    start([&p](Result<T> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  Result<Service::Registered> Register(const std::string& subject,
                                       const std::string& schema,
                                       SchemaType type = SchemaType::kAvro,
                                       std::vector<Reference> refs = {},
                                       bool normalize = false) {
    RegisterRequest r;
    r.subject = subject;
    r.input.type = type;
    r.input.schema = schema;
    r.input.references = std::move(refs);
    r.input.normalize = normalize;
    return Await<Service::Registered>(
        [&](auto cb) { service_->Register(std::move(r), cb); });
  }
  Result<std::vector<int>> DeleteSubject(const std::string& s, bool permanent) {
    return Await<std::vector<int>>(
        [&](auto cb) { service_->DeleteSubject(s, permanent, cb); });
  }
  Result<int> DeleteVersion(const std::string& s, int v, bool permanent) {
    return Await<int>([&](auto cb) {
      service_->DeleteVersion(s, VersionSpec::Number(v), permanent, cb);
    });
  }
  void SetLevel(std::optional<std::string> s, CompatibilityLevel level) {
    auto r = Await<CompatibilityLevel>(
        [&](auto cb) { service_->SetCompatibility(s, level, cb); });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  Result<Mode> SetMode(std::optional<std::string> s, Mode mode,
                       bool force = false) {
    return Await<Mode>([&](auto cb) { service_->SetMode(s, mode, force, cb); });
  }

  fs::path dir_;
  std::unique_ptr<kv::Store> store_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Service> service_;
};

std::optional<ErrorCode> CodeOf(const Status& s) { return ErrorCodeOf(s); }

constexpr char kV1[] =
    R"({"type":"record","name":"P","fields":[{"name":"a","type":"int"}]})";
// Adds a field with a default: backward and forward compatible with kV1.
constexpr char kV2[] =
    R"({"type":"record","name":"P","fields":[{"name":"a","type":"int"},)"
    R"({"name":"b","type":"string","default":"x"}]})";

TEST_F(RegistryTest, RegisterAssignsIdsAndVersions) {
  auto a = Register("s1", kV1);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->id, 1);
  EXPECT_EQ(a->version, 1);
  // Same schema, other whitespace: same version, no new id.
  auto again = Register("s1", std::string(" ") + kV1 + "\n");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, 1);
  EXPECT_EQ(again->version, 1);
  auto b = Register("s1", kV2);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->id, 2);
  EXPECT_EQ(b->version, 2);
  // Another subject reuses the id.
  auto c = Register("s2", kV1);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->id, 1);
  EXPECT_EQ(c->version, 1);
  EXPECT_EQ(service_->MaxId(), 2);
  auto by_id = service_->GetSchemaById(1);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ((*by_id)->schema, kV1);
  auto versions = service_->VersionsOfId(1, false);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].subject, "s1");
  EXPECT_EQ((*versions)[1].subject, "s2");
  EXPECT_EQ(CodeOf(service_->GetSchemaById(9).status()),
            ErrorCode::kSchemaNotFound);
}

// Confluent gives one id to one Avro schema however its JSON is written
// (it compares Avro's own rendering of the parsed schema): attribute order,
// a primitive written as {"type": ...} or a full name split into name and
// namespace make no new id and no new version. Docs still count.
TEST_F(RegistryTest, SameAvroSchemaWrittenDifferentlyKeepsItsId) {
  auto a = Register("s1", kV1);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  constexpr char kReordered[] =
      R"({"fields":[{"type":"int","name":"a"}],"name":"P","type":"record"})";
  auto same = Register("s1", kReordered);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->id, a->id);
  EXPECT_EQ(same->version, 1);
  auto other = Register("s2", kReordered);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->id, a->id);
  SchemaInput in;
  in.schema = kReordered;
  auto found = service_->Lookup("s1", in, false);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->version.id, a->id);

  auto full = Register("ns", R"({"type":"record","name":"x.Q","fields":[]})");
  ASSERT_TRUE(full.ok());
  auto split = Register(
      "ns", R"({"type":"record","namespace":"x","name":"Q","fields":[]})");
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->id, full->id);
  EXPECT_EQ(split->version, 1);

  auto prim = Register("p1", R"("string")");
  ASSERT_TRUE(prim.ok());
  auto obj = Register("p2", R"({"type": "string"})");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(obj->id, prim->id);

  // A doc is part of the schema for Confluent: a new id.
  auto doc = Register(
      "d", R"({"type":"record","name":"P","doc":"d","fields":[{"name":"a",)"
           R"("type":"int"}]})");
  ASSERT_TRUE(doc.ok());
  EXPECT_NE(doc->id, a->id);

  // The same after a restart (identities rebuilt from the stored text).
  Reopen();
  auto after = Register("s3", kReordered);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->id, a->id);
  auto obj2 = Register("p3", R"({"type":"string"})");
  ASSERT_TRUE(obj2.ok());
  EXPECT_EQ(obj2->id, prim->id);
}

TEST_F(RegistryTest, InvalidSchemas) {
  EXPECT_EQ(CodeOf(Register("s", "{").status()), ErrorCode::kInvalidSchema);
  EXPECT_EQ(CodeOf(Register("s", R"({"type":"nope"})").status()),
            ErrorCode::kInvalidSchema);
  EXPECT_EQ(CodeOf(Register("s", "[1,", SchemaType::kJson).status()),
            ErrorCode::kInvalidSchema);
  EXPECT_EQ(
      CodeOf(Register("s", "message A { int32 a = 1; ", SchemaType::kProtobuf)
                 .status()),
      ErrorCode::kInvalidSchema);
  EXPECT_EQ(
      CodeOf(Register("s", "hello world", SchemaType::kProtobuf).status()),
      ErrorCode::kInvalidSchema);
  EXPECT_TRUE(service_->ListSubjects(true, false, "").empty());
  EXPECT_EQ(service_->MaxId(), 0);
}

TEST_F(RegistryTest, JsonAndProtobufAreStoredWithTheirOwnIds) {
  auto j = Register("j", R"({"type": "object"})", SchemaType::kJson);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  auto p = Register("p",
                    "syntax = \"proto3\";\n// c\nmessage A { int32 a = 1; "
                    "map<string, int32> m = 2; }\n",
                    SchemaType::kProtobuf);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_NE(j->id, p->id);
  EXPECT_EQ((*service_->GetSchemaById(j->id))->type, SchemaType::kJson);
  EXPECT_EQ((*service_->GetSchemaById(j->id))->schema, R"({"type":"object"})");
  // A second JSON version needs a compatibility check riffle does not have:
  // a clear error, never a verdict.
  auto j2 = Register("j", R"({"type": "string"})", SchemaType::kJson);
  EXPECT_EQ(CodeOf(j2.status()), ErrorCode::kInvalidSchema);
  EXPECT_NE(j2.status().message().find("cannot check"), std::string::npos);
  SetLevel("j", CompatibilityLevel::kNone);
  EXPECT_TRUE(Register("j", R"({"type": "string"})", SchemaType::kJson).ok());
  // Changing type is incompatible.
  SetLevel("j", CompatibilityLevel::kBackward);
  EXPECT_EQ(CodeOf(Register("j", kV1).status()),
            ErrorCode::kIncompatibleSchema);
}

TEST_F(RegistryTest, VersionsCountPastSoftDeletes) {
  SetLevel(std::nullopt, CompatibilityLevel::kNone);
  ASSERT_TRUE(Register("s", kV1).ok());
  ASSERT_TRUE(Register("s", kV2).ok());
  ASSERT_EQ(*DeleteVersion("s", 2, false), 2);
  // Soft-deleted: still readable by id and with deleted=true.
  EXPECT_TRUE(service_->GetSchemaById(2).ok());
  EXPECT_EQ(
      CodeOf(service_->GetVersion("s", VersionSpec::Number(2), false).status()),
      ErrorCode::kVersionNotFound);
  EXPECT_TRUE(service_->GetVersion("s", VersionSpec::Number(2), true).ok());
  EXPECT_EQ(*service_->ListVersions("s", false, false), std::vector<int>{1});
  EXPECT_EQ(*service_->ListVersions("s", true, false),
            (std::vector<int>{1, 2}));
  EXPECT_EQ(*service_->ListVersions("s", false, true), std::vector<int>{2});
  // Re-registering the deleted schema makes a new version with its old id.
  auto again = Register("s", kV2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->version, 3);
  EXPECT_EQ(again->id, 2);
  EXPECT_EQ(
      service_->GetVersion("s", VersionSpec::Latest(), false)->version.version,
      3);
}

TEST_F(RegistryTest, PermanentDeleteRules) {
  SetLevel(std::nullopt, CompatibilityLevel::kNone);
  ASSERT_TRUE(Register("s", kV1).ok());
  ASSERT_TRUE(Register("s", kV2).ok());
  EXPECT_EQ(CodeOf(DeleteVersion("s", 1, true).status()),
            ErrorCode::kVersionNotSoftDeleted);
  EXPECT_EQ(CodeOf(DeleteVersion("s", 7, false).status()),
            ErrorCode::kVersionNotFound);
  EXPECT_EQ(CodeOf(DeleteVersion("nope", 1, false).status()),
            ErrorCode::kSubjectNotFound);
  ASSERT_TRUE(DeleteVersion("s", 1, false).ok());
  EXPECT_EQ(CodeOf(DeleteVersion("s", 1, false).status()),
            ErrorCode::kVersionSoftDeleted);
  ASSERT_TRUE(DeleteVersion("s", 1, true).ok());
  EXPECT_EQ(CodeOf(service_->GetSchemaById(1).status()),
            ErrorCode::kSchemaNotFound);

  EXPECT_EQ(CodeOf(DeleteSubject("s", true).status()),
            ErrorCode::kSubjectNotSoftDeleted);
  EXPECT_EQ(*DeleteSubject("s", false), std::vector<int>{2});
  EXPECT_EQ(CodeOf(DeleteSubject("s", false).status()),
            ErrorCode::kSubjectSoftDeleted);
  EXPECT_EQ(service_->ListSubjects(false, false, ""),
            std::vector<std::string>{});
  EXPECT_EQ(service_->ListSubjects(true, false, ""),
            std::vector<std::string>{"s"});
  EXPECT_EQ(service_->ListSubjects(false, true, ""),
            std::vector<std::string>{"s"});
  EXPECT_EQ(*DeleteSubject("s", true), std::vector<int>{2});
  EXPECT_EQ(CodeOf(DeleteSubject("s", false).status()),
            ErrorCode::kSubjectNotFound);
  // Ids are never reused, even after every schema is gone.
  auto fresh = Register("s", R"("string")");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->id, 3);
  EXPECT_EQ(fresh->version, 1);
  Reopen();
  auto after = Register("t", R"("long")");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->id, 4);
}

TEST_F(RegistryTest, ReferencesBlockDeletes) {
  constexpr char kAddress[] =
      R"({"type":"record","name":"Address","namespace":"ex",)"
      R"("fields":[{"name":"city","type":"string"}]})";
  constexpr char kPerson[] =
      R"({"type":"record","name":"Person","namespace":"ex",)"
      R"("fields":[{"name":"home","type":"ex.Address"}]})";
  ASSERT_TRUE(Register("address", kAddress).ok());
  auto person = Register("person", kPerson, SchemaType::kAvro,
                         {Reference{"ex.Address", "address", 1}});
  ASSERT_TRUE(person.ok()) << person.status().ToString();
  EXPECT_EQ(*service_->ReferencedBy("address", VersionSpec::Number(1)),
            std::vector<int>{person->id});
  EXPECT_EQ(CodeOf(DeleteVersion("address", 1, false).status()),
            ErrorCode::kReferenceExists);
  EXPECT_EQ(CodeOf(DeleteSubject("address", false).status()),
            ErrorCode::kReferenceExists);
  // Unknown reference.
  EXPECT_EQ(CodeOf(Register("p2", kPerson, SchemaType::kAvro,
                            {Reference{"ex.Address", "address", 9}})
                       .status()),
            ErrorCode::kInvalidSchema);
  // Without the reference the name is unknown.
  EXPECT_EQ(CodeOf(Register("p3", kPerson).status()),
            ErrorCode::kInvalidSchema);
  // The same schema with the same references under another subject reuses
  // the id; references survive a restart.
  Reopen();
  auto again = Register("person2", kPerson, SchemaType::kAvro,
                        {Reference{"ex.Address", "address", 1}});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->id, person->id);
  // Once the referrers are soft-deleted, a soft delete is allowed; a
  // permanent one waits until they are gone for good.
  ASSERT_TRUE(DeleteSubject("person", false).ok());
  ASSERT_TRUE(DeleteSubject("person2", false).ok());
  ASSERT_TRUE(DeleteVersion("address", 1, false).ok());
  EXPECT_EQ(CodeOf(DeleteVersion("address", 1, true).status()),
            ErrorCode::kReferenceExists);
  ASSERT_TRUE(DeleteSubject("person", true).ok());
  ASSERT_TRUE(DeleteSubject("person2", true).ok());
  EXPECT_TRUE(DeleteVersion("address", 1, true).ok());
}

TEST_F(RegistryTest, ConfigSemantics) {
  EXPECT_EQ(service_->GlobalCompatibility(), CompatibilityLevel::kBackward);
  EXPECT_EQ(CodeOf(service_->SubjectCompatibility("s", false).status()),
            ErrorCode::kSubjectCompatibilityNotConfigured);
  EXPECT_EQ(*service_->SubjectCompatibility("s", true),
            CompatibilityLevel::kBackward);
  SetLevel("s", CompatibilityLevel::kFull);
  SetLevel(std::nullopt, CompatibilityLevel::kNone);
  EXPECT_EQ(*service_->SubjectCompatibility("s", false),
            CompatibilityLevel::kFull);
  Reopen();
  EXPECT_EQ(service_->GlobalCompatibility(), CompatibilityLevel::kNone);
  EXPECT_EQ(*service_->SubjectCompatibility("s", false),
            CompatibilityLevel::kFull);
  auto prev = Await<CompatibilityLevel>(
      [&](auto cb) { service_->DeleteCompatibility("s", cb); });
  EXPECT_EQ(*prev, CompatibilityLevel::kFull);
  auto again = Await<CompatibilityLevel>(
      [&](auto cb) { service_->DeleteCompatibility("s", cb); });
  EXPECT_EQ(CodeOf(again.status()), ErrorCode::kSubjectNotFound);
  auto global = Await<CompatibilityLevel>(
      [&](auto cb) { service_->DeleteCompatibility(std::nullopt, cb); });
  EXPECT_EQ(*global, CompatibilityLevel::kNone);
  EXPECT_EQ(service_->GlobalCompatibility(), CompatibilityLevel::kBackward);
  EXPECT_EQ(ParseCompatibilityLevel("backward_transitive"),
            CompatibilityLevel::kBackwardTransitive);
  EXPECT_EQ(ParseCompatibilityLevel("sideways"), std::nullopt);
}

TEST_F(RegistryTest, ModeSemantics) {
  EXPECT_EQ(service_->GlobalMode(), Mode::kReadWrite);
  EXPECT_EQ(CodeOf(service_->SubjectMode("s", false).status()),
            ErrorCode::kSubjectModeNotConfigured);
  ASSERT_TRUE(Register("s", kV1).ok());
  ASSERT_EQ(*SetMode("s", Mode::kReadOnly), Mode::kReadOnly);
  EXPECT_EQ(CodeOf(Register("s", kV2).status()),
            ErrorCode::kOperationNotPermitted);
  EXPECT_EQ(CodeOf(DeleteSubject("s", false).status()),
            ErrorCode::kOperationNotPermitted);
  EXPECT_TRUE(Register("other", kV2).ok());
  // IMPORT needs an empty registry unless forced.
  EXPECT_EQ(CodeOf(SetMode(std::nullopt, Mode::kImport).status()),
            ErrorCode::kOperationNotPermitted);
  ASSERT_TRUE(SetMode("imported", Mode::kImport).ok());
  RegisterRequest r;
  r.subject = "imported";
  r.input.schema = R"("double")";
  r.id = 100;
  r.version = 5;
  auto imported =
      Await<Service::Registered>([&](auto cb) { service_->Register(r, cb); });
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->id, 100);
  EXPECT_EQ(imported->version, 5);
  // The id counter moved past the imported id.
  EXPECT_EQ(service_->MaxId(), 100);
  r.input.schema = R"("float")";
  auto clash =
      Await<Service::Registered>([&](auto cb) { service_->Register(r, cb); });
  EXPECT_EQ(CodeOf(clash.status()), ErrorCode::kIdDoesNotMatch);
  // An explicit id outside IMPORT mode.
  r.subject = "other";
  auto not_import =
      Await<Service::Registered>([&](auto cb) { service_->Register(r, cb); });
  EXPECT_EQ(CodeOf(not_import.status()), ErrorCode::kOperationNotPermitted);
  Reopen();
  EXPECT_EQ(*service_->SubjectMode("s", false), Mode::kReadOnly);
  auto prev = Await<Mode>([&](auto cb) { service_->DeleteMode("s", cb); });
  EXPECT_EQ(*prev, Mode::kReadOnly);
  EXPECT_TRUE(Register("s", kV2).ok());
  EXPECT_EQ(Register("new", R"("bytes")")->id, 101);
}

TEST_F(RegistryTest, LookupAndNormalize) {
  ASSERT_TRUE(Register("s", kV1).ok());
  SchemaInput in;
  in.schema = std::string("  ") + kV1;
  auto found = service_->Lookup("s", in, false);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->version.version, 1);
  // A doc is part of the schema, normalized or not (Confluent's
  // normalization keeps docs, defaults, aliases and properties).
  in.schema =
      R"({"name":"P","type":"record","doc":"d","fields":[{"type":"int","name":"a"}]})";
  EXPECT_EQ(CodeOf(service_->Lookup("s", in, false).status()),
            ErrorCode::kSchemaNotFound);
  in.normalize = true;
  EXPECT_EQ(CodeOf(service_->Lookup("s", in, false).status()),
            ErrorCode::kSchemaNotFound);
  EXPECT_EQ(CodeOf(service_->Lookup("nope", in, false).status()),
            ErrorCode::kSubjectNotFound);
  // Registering normalized stores Confluent's normalized form: full names,
  // a fixed attribute order, and still the doc.
  auto n = Register("n", in.schema, SchemaType::kAvro, {}, true);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(
      n->schema->schema,
      R"({"name":"P","type":"record","fields":[{"name":"a","type":"int"}],)"
      R"("doc":"d"})");
  in.schema = R"({"type":"record","name":"P","doc":"d","fields":[{"name":"a",)"
              R"("type":"int"}]})";
  auto found_n = service_->Lookup("n", in, false);
  ASSERT_TRUE(found_n.ok()) << found_n.status().ToString();
  EXPECT_EQ(found_n->version.id, n->id);
}

// normalize=true must not drop what a reader needs: defaults, logical types
// and properties stay in the stored text, and a schema that changes only a
// default is a new version (Confluent's normalization keeps them; Parsing
// Canonical Form would strip them and answer the previous version's id).
TEST_F(RegistryTest, NormalizeKeepsDefaultsAndLogicalTypes) {
  SetLevel(std::nullopt, CompatibilityLevel::kNone);
  constexpr char kWithDefault[] =
      R"({"type":"record","namespace":"ns","name":"R","fields":[)"
      R"({"name":"b","type":"string","default":"x","aliases":["y","c"]},)"
      R"({"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},)"
      R"({"name":"d","type":{"type":"bytes","scale":2,"logicalType":"decimal",)"
      R"("precision":5}}],"zz":1,"aa":2})";
  auto a = Register("s", kWithDefault, SchemaType::kAvro, {}, true);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(
      a->schema->schema,
      R"({"name":"ns.R","type":"record","fields":[)"
      R"({"name":"b","type":"string","aliases":["c","y"],"default":"x"},)"
      R"({"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},)"
      R"({"name":"d","type":{"type":"bytes","logicalType":"decimal",)"
      R"("precision":5,"scale":2}}],"aa":2,"zz":1})");
  std::string other_default = kWithDefault;
  other_default.replace(other_default.find(R"("x")"), 3, R"("z")");
  auto b = Register("s", other_default, SchemaType::kAvro, {}, true);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_NE(b->id, a->id);
  EXPECT_EQ(b->version, 2);
  // Attribute and alias order do not count under normalize.
  auto again = Register(
      "s",
      R"({"aa":2,"zz":1,"fields":[)"
      R"({"aliases":["c","y"],"default":"z","type":"string","name":"b"},)"
      R"({"name":"t","type":{"logicalType":"timestamp-millis","type":"long"}},)"
      R"({"name":"d","type":{"type":"bytes","logicalType":"decimal",)"
      R"("precision":5,"scale":2}}],"name":"ns.R","type":"record"})",
      SchemaType::kAvro, {}, true);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->id, b->id);
  EXPECT_EQ(again->version, 2);
  // The stored text parses back (as it must on the next start).
  Reopen();
  auto after = Register("s2", other_default, SchemaType::kAvro, {}, true);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->id, b->id);
}

// ---- compatibility levels, table-driven ----

// Three schemas whose pairwise compatibility is known:
//  A: {a:int}
//  B: {a:int, b:string (no default)}  reads A? no (b missing default);
//     A reads B? yes (b ignored).
//  C: {a:long}                          reads A (int promotes to long),
//     A cannot read C.
constexpr char kA[] =
    R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})";
constexpr char kB[] =
    R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},)"
    R"({"name":"b","type":"string"}]})";
constexpr char kBd[] =
    R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},)"
    R"({"name":"b","type":"string","default":""}]})";
constexpr char kC[] =
    R"({"type":"record","name":"R","fields":[{"name":"a","type":"long"}]})";
constexpr char kD[] =
    R"({"type":"record","name":"R","fields":[{"name":"b","type":"string",)"
    R"("default":""}]})";

struct CompatCase {
  CompatibilityLevel level;
  std::vector<std::string> history;  // registered in order, level NONE
  std::string candidate;
  bool accepted;
};

class CompatibilityTable : public RegistryTest,
                           public ::testing::WithParamInterface<CompatCase> {};

TEST_P(CompatibilityTable, Verdict) {
  const CompatCase& c = GetParam();
  SetLevel("s", CompatibilityLevel::kNone);
  for (const auto& h : c.history) ASSERT_TRUE(Register("s", h).ok()) << h;
  SetLevel("s", c.level);
  SchemaInput in;
  in.schema = c.candidate;
  auto report = service_->TestCompatibility("s", std::nullopt, in);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->compatible, c.accepted);
  auto r = Register("s", c.candidate);
  if (c.accepted) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  } else {
    EXPECT_EQ(CodeOf(r.status()), ErrorCode::kIncompatibleSchema);
    EXPECT_NE(r.status().message().find("incompatible with an earlier schema"),
              std::string::npos);
  }
}

using L = CompatibilityLevel;
INSTANTIATE_TEST_SUITE_P(
    Levels, CompatibilityTable,
    ::testing::Values(
        // NONE accepts anything.
        CompatCase{L::kNone, {kA}, kB, true},
        CompatCase{L::kNone, {kC}, kA, true},
        // BACKWARD: new reads old. B lacks a default for b.
        CompatCase{L::kBackward, {kA}, kB, false},
        CompatCase{L::kBackward, {kA}, kBd, true},
        CompatCase{L::kBackward, {kA}, kC, true},
        CompatCase{L::kBackward, {kC}, kA, false},
        // Only the latest counts: A then C, candidate reads C but not A?
        // kD reads both (b has a default, a ignored).
        CompatCase{L::kBackward, {kC, kBd}, kD, true},
        // BACKWARD_TRANSITIVE checks every version: kA reads kBd but not kC.
        CompatCase{L::kBackward, {kC, kBd}, kA, true},
        CompatCase{L::kBackwardTransitive, {kC, kBd}, kA, false},
        CompatCase{L::kBackwardTransitive, {kA, kBd}, kD, true},
        // FORWARD: old reads new.
        CompatCase{L::kForward, {kA}, kB, true},
        CompatCase{L::kForward, {kB}, kA, false},
        CompatCase{L::kForward, {kA}, kC, false},
        CompatCase{L::kForward, {kC}, kA, true},
        CompatCase{L::kForward, {kB, kA}, kC, false},
        // FORWARD_TRANSITIVE: B cannot read A's data... old B reads new? B
        // needs b: a new schema without b fails against B.
        CompatCase{L::kForward, {kB, kBd}, kA, true},
        CompatCase{L::kForwardTransitive, {kB, kBd}, kA, false},
        CompatCase{L::kForwardTransitive, {kA, kBd}, kB, true},
        // FULL: both directions with the latest.
        CompatCase{L::kFull, {kA}, kBd, true},
        CompatCase{L::kFull, {kA}, kB, false},
        CompatCase{L::kFull, {kA}, kC, false},
        CompatCase{L::kFull, {kC, kA}, kBd, true},
        // FULL_TRANSITIVE: the same against every version.
        CompatCase{L::kFullTransitive, {kC, kA}, kBd, false},
        CompatCase{L::kFullTransitive, {kA, kBd}, kA, true}));

TEST_F(RegistryTest, SoftDeletedVersionsAreNotChecked) {
  SetLevel("s", CompatibilityLevel::kNone);
  ASSERT_TRUE(Register("s", kC).ok());
  ASSERT_TRUE(Register("s", kBd).ok());
  SetLevel("s", CompatibilityLevel::kBackwardTransitive);
  EXPECT_EQ(CodeOf(Register("s", kA).status()), ErrorCode::kIncompatibleSchema);
  ASSERT_TRUE(DeleteVersion("s", 1, false).ok());
  EXPECT_TRUE(Register("s", kA).ok());
}

TEST_F(RegistryTest, TestCompatibilityAgainstOneVersion) {
  SetLevel("s", CompatibilityLevel::kNone);
  ASSERT_TRUE(Register("s", kA).ok());
  ASSERT_TRUE(Register("s", kC).ok());
  SetLevel("s", CompatibilityLevel::kForward);
  SchemaInput in;
  in.schema = kA;
  EXPECT_TRUE(
      service_->TestCompatibility("s", VersionSpec::Number(1), in)->compatible);
  auto r = service_->TestCompatibility("s", VersionSpec::Latest(), in);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->compatible);  // C reads A's data (int promotes to long)
  in.schema = kC;
  r = service_->TestCompatibility("s", VersionSpec::Number(1), in);
  EXPECT_FALSE(r->compatible);
  EXPECT_FALSE(r->messages.empty());
  EXPECT_EQ(CodeOf(service_->TestCompatibility("s", VersionSpec::Number(3), in)
                       .status()),
            ErrorCode::kVersionNotFound);
  // As Confluent: "latest" of a subject without a live version checks
  // against nothing (compatible); a numbered version it lacks is 40402.
  r = service_->TestCompatibility("x", VersionSpec::Latest(), in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->compatible);
  EXPECT_EQ(CodeOf(service_->TestCompatibility("x", VersionSpec::Number(1), in)
                       .status()),
            ErrorCode::kVersionNotFound);
  ASSERT_TRUE(DeleteSubject("s", false).ok());
  r = service_->TestCompatibility("s", VersionSpec::Latest(), in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->compatible);
  EXPECT_EQ(CodeOf(service_->TestCompatibility("s", VersionSpec::Number(1), in)
                       .status()),
            ErrorCode::kVersionNotFound);
}

TEST_F(RegistryTest, ConcurrentRegistrationsTakeDistinctIds) {
  SetLevel(std::nullopt, CompatibilityLevel::kNone);
  constexpr int kN = 50;
  std::vector<std::promise<Result<Service::Registered>>> done(kN);
  for (int i = 0; i < kN; ++i) {
    RegisterRequest r;
    r.subject = "s" + std::to_string(i % 5);
    r.input.schema =
        R"({"type":"fixed","name":"F","size":)" + std::to_string(i + 1) + "}";
    service_->Register(std::move(r), [&done, i](Result<Service::Registered> x) {
      done[i].set_value(std::move(x));
    });
  }
  std::set<int> ids;
  for (auto& d : done) {
    auto r = d.get_future().get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ids.insert(r->id);
  }
  EXPECT_EQ(ids.size(), size_t{kN});
  EXPECT_EQ(*ids.rbegin(), kN);
  for (int s = 0; s < 5; ++s) {
    EXPECT_EQ(
        service_->ListVersions("s" + std::to_string(s), false, false)->size(),
        10u);
  }
}

// Delegates to a real store; while `fail` is set, every write fails.
class FlakyStore : public kv::Store {
 public:
  explicit FlakyStore(kv::Store* base) : base_(base) {}
  std::atomic<bool> fail{false};

  void Write(kv::WriteBatch batch, WriteCallback done) override {
    if (fail) {
      done(Unavailable("injected write failure"));
      return;
    }
    base_->Write(std::move(batch), std::move(done));
  }
  Status WriteSync(kv::WriteBatch batch) override {
    return base_->WriteSync(std::move(batch));
  }
  Result<std::string> Get(kv::Family family, std::string_view key,
                          const kv::ReadOptions& options) override {
    return base_->Get(family, key, options);
  }
  std::unique_ptr<kv::Iterator> NewIterator(
      kv::Family family, const kv::ReadOptions& options) override {
    return base_->NewIterator(family, options);
  }
  std::shared_ptr<const kv::Snapshot> GetSnapshot() override {
    return base_->GetSnapshot();
  }
  kv::Stats stats() const override { return base_->stats(); }
  Status Flush() override { return base_->Flush(); }

 private:
  kv::Store* base_;
};

// Writes are planned against the writer's copy of the registry before they
// are durable; when the write fails, none of them may show, and the next
// registrations must plan as if they never happened (same ids, versions).
TEST_F(RegistryTest, AFailedGroupOfWritesLeavesNoTrace) {
  SetLevel(std::nullopt, CompatibilityLevel::kNone);
  ASSERT_TRUE(Register("s", kV1).ok());
  service_.reset();
  FlakyStore flaky(store_.get());
  auto opened = Service::Open({&flaky, pool_.get()});
  ASSERT_TRUE(opened.ok());
  service_ = std::move(opened).value();

  flaky.fail = true;
  constexpr int kN = 20;
  std::vector<std::promise<Result<Service::Registered>>> done(kN);
  for (int i = 0; i < kN; ++i) {
    RegisterRequest r;
    r.subject = "t" + std::to_string(i % 3);
    r.input.schema =
        R"({"type":"fixed","name":"F","size":)" + std::to_string(i + 1) + "}";
    service_->Register(std::move(r), [&done, i](Result<Service::Registered> x) {
      done[i].set_value(std::move(x));
    });
  }
  for (auto& d : done) {
    auto r = d.get_future().get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(CodeOf(r.status()), ErrorCode::kStoreError);
  }
  EXPECT_EQ(service_->MaxId(), 1);
  EXPECT_FALSE(service_->ListVersions("t0", true, false).ok());
  EXPECT_FALSE(service_->GetSchemaById(2).ok());

  flaky.fail = false;
  auto again = Register("t0", R"({"type":"fixed","name":"F","size":1})");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->id, 2);
  EXPECT_EQ(again->version, 1);
  auto v2 = Register("s", kV2);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->id, 3);
  EXPECT_EQ(v2->version, 2);
  service_.reset();  // before `flaky` goes

  Reopen();
  EXPECT_EQ(service_->MaxId(), 3);
  EXPECT_EQ(service_->ListVersions("t0", true, false)->size(), 1u);
  EXPECT_FALSE(service_->ListVersions("t1", true, false).ok());
}

TEST(VersionSpec, Parse) {
  EXPECT_FALSE(VersionSpec::Parse("latest")->number);
  EXPECT_FALSE(VersionSpec::Parse("-1")->number);
  EXPECT_EQ(VersionSpec::Parse("7")->number, 7);
  for (const char* bad : {"0", "-2", "x", "", "2147483648", "1.5"}) {
    EXPECT_EQ(ErrorCodeOf(VersionSpec::Parse(bad).status()),
              ErrorCode::kInvalidVersion)
        << bad;
  }
}

TEST(Errors, NumberPrefix) {
  Status s = SubjectNotFound("x");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrorCodeOf(s), ErrorCode::kSubjectNotFound);
  EXPECT_EQ(ErrorMessageOf(s), "Subject 'x' not found.");
  EXPECT_EQ(ErrorCodeOf(Internal("12345 no")), std::nullopt);
  EXPECT_EQ(ErrorMessageOf(Internal("boom")), "boom");
}

}  // namespace
}  // namespace riffle::registry
