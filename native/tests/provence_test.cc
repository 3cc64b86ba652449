// builder/provence.h: the ranker's config inside an OpenProvence config.json, and the thresholds the layouts name.
#include "builder/provence.h"

#include <gtest/gtest.h>

using nlohmann::json;
using namespace winnow;

namespace {

TEST(ProvenceTest, RecognisesOpenProvenceConfigs) {
  EXPECT_TRUE(builder::IsProvenceConfig(json{{"model_type", "open_provence"}}));
  EXPECT_TRUE(builder::IsProvenceConfig(json{{"model_type", "provence"}}));
  EXPECT_FALSE(builder::IsProvenceConfig(json{{"model_type", "modernbert"}}));
  EXPECT_FALSE(builder::IsProvenceConfig(json{{"model_type", 3}}));
  EXPECT_FALSE(builder::IsProvenceConfig(json::object()));
}

TEST(ProvenceTest, NestedRankerConfigInKeyOrder) {
  json c = {{"model_type", "open_provence"},
            {"model_config", {{"model_type", "bert"}}},
            {"base_model_config", {{"model_type", "modernbert"}, {"hidden_size", 64}}}};
  auto r = builder::ProvenceRankerConfig(c, "dir/config.json");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["model_type"], "modernbert");
  EXPECT_EQ((*r)["hidden_size"], 64);

  json no_type = {{"model_type", "open_provence"}, {"backbone_config", {{"hidden_size", 64}}}};
  auto bad = builder::ProvenceRankerConfig(no_type, "dir/config.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), codes::kConfigInvalid);
  EXPECT_NE(bad.status().message().find("backbone_config has no model_type"), std::string::npos);
}

TEST(ProvenceTest, TopLevelRankerFields) {
  // base_model_type names it; OpenProvence's own keys are left out.
  json c = {{"model_type", "open_provence"}, {"base_model_type", "bert"}, {"hidden_size", 32},
            {"default_threadshold", 0.3},    {"pruning_config", {{"num_labels", 2}}}};
  auto r = builder::ProvenceRankerConfig(c, "config.json");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["model_type"], "bert");
  EXPECT_EQ((*r)["hidden_size"], 32);
  EXPECT_FALSE(r->contains("default_threadshold"));
  EXPECT_FALSE(r->contains("pruning_config"));

  // An architectures entry *ForSequenceClassification names it.
  json a = {{"model_type", "open_provence"},
            {"architectures", {"OpenProvenceModel", "ModernBertForSequenceClassification"}},
            {"hidden_size", 64}};
  auto ra = builder::ProvenceRankerConfig(a, "config.json");
  ASSERT_TRUE(ra.ok()) << ra.status().ToString();
  EXPECT_EQ((*ra)["model_type"], "modernbert");
  EXPECT_EQ((*ra)["architectures"], json({"ModernBertForSequenceClassification"}));

  json unknown = {{"model_type", "open_provence"}, {"architectures", {"FooForSequenceClassification"}},
                  {"hidden_size", 64}};
  EXPECT_EQ(builder::ProvenceRankerConfig(unknown, "config.json").status().code(), codes::kConfigInvalid);
  json no_hidden = {{"model_type", "open_provence"}, {"base_model_type", "bert"}};
  auto nh = builder::ProvenceRankerConfig(no_hidden, "config.json");
  ASSERT_FALSE(nh.ok());
  EXPECT_NE(nh.status().message().find("hidden_size"), std::string::npos);
  json none = {{"model_type", "open_provence"}, {"base_model_name_or_path", "x/y"}};
  auto n = builder::ProvenceRankerConfig(none, "config.json");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), codes::kConfigInvalid);
  EXPECT_NE(n.status().message().find("base_model_config"), std::string::npos);
}

TEST(ProvenceTest, ThresholdKeysInOrder) {
  json a = {{"default_threshold", 0.2}, {"default_threadshold", 0.3}};
  json b = {{"threshold", 0.7}};
  auto t = builder::PruningThreshold({&a, &b}, {"a.json", "b.json"});
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(*t, 0.3);  // OpenProvence's spelling first
  t = builder::PruningThreshold({nullptr, &b}, {"a.json", "b.json"});
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(*t, 0.7);
  json none = {{"max_length", 256}};
  t = builder::PruningThreshold({&none}, {"a.json"});
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(*t, -1.0);
  json bad = {{"default_threshold", "0.5"}};
  auto e = builder::PruningThreshold({&bad}, {"dir/pruning_encoder_config.json"});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), codes::kConfigInvalid);
  EXPECT_NE(e.status().message().find("dir/pruning_encoder_config.json: default_threshold"), std::string::npos);
  json high = {{"default_threadshold", 1.5}};
  EXPECT_FALSE(builder::PruningThreshold({&high}, {"c.json"}).ok());
}

}  // namespace
